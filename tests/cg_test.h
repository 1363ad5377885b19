/* cg_test: the shared CUnit runner for every suite. A test file lists its tests in a
 * CU_TestInfo array and calls cg_test_run from main. Exit status: 0 all passed,
 * 1 failures, 77 skipped (CTest SKIP_RETURN_CODE) when cg_test_skip was called. */
#ifndef CG_TEST_H
#define CG_TEST_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

/* Runs one suite (setup/teardown may be NULL) in verbose basic mode. */
int cg_test_run(const char *suite, CU_TestInfo *tests, CU_InitializeFunc setup,
                CU_CleanupFunc teardown);
/* Prints "SKIPPED: reason" and exits 77 so CTest reports the suite as skipped. */
void cg_test_skip(const char *reason) __attribute__((noreturn));

/* |a - b| <= tol, reporting both values on failure. */
#define CG_ASSERT_NEAR(a, b, tol) CU_ASSERT_DOUBLE_EQUAL((double)(a), (double)(b), (double)(tol))
/* Fails the test (an ordinary CUnit failure) and jumps to the test's `done:` cleanup. */
#define CG_TEST_REQUIRE(cond)                                                                      \
    do {                                                                                           \
        int cg_ok_ = (cond) ? 1 : 0;                                                               \
        CU_assertImplementation(cg_ok_ ? CU_TRUE : CU_FALSE, __LINE__, #cond, __FILE__, "",        \
                                CU_FALSE);                                                         \
        if (!cg_ok_)                                                                               \
            goto done;                                                                             \
    } while (0)

#endif
