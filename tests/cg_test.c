/* cg_test: the shared CUnit runner (basic interface, verbose) and the skip exit. */
#include "cg_test.h"

#include <stdio.h>
#include <stdlib.h>

int cg_test_run(const char *suite, CU_TestInfo *tests, CU_InitializeFunc setup,
                CU_CleanupFunc teardown)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_SuiteInfo suites[] = {
        {(char *)suite, setup, teardown, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        fprintf(stderr, "cannot register suite %s: %s\n", suite, CU_get_error_msg());
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned suites_failed = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return (failed || suites_failed) ? 1 : 0;
}

void cg_test_skip(const char *reason)
{
    printf("SKIPPED: %s\n", reason);
    fflush(stdout);
    exit(77);
}
