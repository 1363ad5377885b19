/* test_status: every status has a distinct name; CG_TRY propagates; allocation helpers. */
#include <string.h>

#include "cg_alloc.h"
#include "cg_status.h"
#include "cg_test.h"

static void test_status_names_distinct(void)
{
    const char *seen[32];
    int n = 0;
    for (int s = 0; s >= CG_ERR_INTERRUPTED; s--) {
        const char *name = cg_status_str((cg_status_t)s);
        CU_ASSERT_PTR_NOT_NULL_FATAL(name);
        CU_ASSERT_STRING_NOT_EQUAL(name, "unknown status");
        for (int j = 0; j < n; j++)
            CU_ASSERT_STRING_NOT_EQUAL(name, seen[j]);
        seen[n++] = name;
    }
    CU_ASSERT_STRING_EQUAL(cg_status_str((cg_status_t)-999), "unknown status");
}

static cg_status_t s_fails(void)
{
    return CG_ERR_SHAPE;
}
static cg_status_t s_propagates(int *reached)
{
    CG_TRY(s_fails());
    *reached = 1;
    return CG_OK;
}

static void test_status_try(void)
{
    int reached = 0;
    CU_ASSERT_EQUAL(s_propagates(&reached), CG_ERR_SHAPE);
    CU_ASSERT_EQUAL(reached, 0);
}

static void test_alloc(void)
{
    int *p = cg_calloc(10, sizeof *p);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(p[i], 0);
    p = cg_realloc(p, 1000, sizeof *p);
    p[999] = 7;
    CU_ASSERT_EQUAL(p[999], 7);
    free(p);
    char *s = cg_strdup("lava");
    CU_ASSERT_STRING_EQUAL(s, "lava");
    free(s);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"names_distinct", test_status_names_distinct},
        {"try", test_status_try},
        {"alloc", test_alloc},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("status", tests, NULL, NULL);
}
