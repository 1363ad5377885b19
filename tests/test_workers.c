/* test_workers: cg_workers runs every part exactly once, on a valid thread index, whether
 * the workers are watching for the next job (runs back to back) or asleep in their pipes
 * (runs far apart), with fewer parts than threads, and is destroyed cleanly in either
 * state. A lost wake-up would hang a run: CTest's timeout catches that. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cg_test.h"
#include "cg_workers.h"

#define S_MAX_PARTS 24

typedef struct {
    int runs;       /* (atomic) how often this part ran */
    int32_t thread; /* the thread that ran it */
    int32_t work;   /* microseconds of spinning */
} s_part_t;

static void s_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void s_busy_us(long us)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

static void s_part_run(void *arg, int32_t thread)
{
    s_part_t *p = arg;
    s_busy_us(p->work);
    p->thread = thread;
    __atomic_fetch_add(&p->runs, 1, __ATOMIC_RELAXED);
}

/* `runs` jobs of 1..S_MAX_PARTS parts on `n_workers` workers, `gap_us` apart (a gap of -1:
 * random, 0 to 400 us, across the watching window); each part ran once. */
static void s_check_runs(int32_t n_workers, int runs, long gap_us, unsigned seed)
{
    char err[256] = "";
    cg_workers_t *w = cg_workers_new(n_workers, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(cg_workers_count(w), n_workers);
    srand(seed);
    s_part_t parts[S_MAX_PARTS];
    void *ptrs[S_MAX_PARTS];
    int bad = 0;
    for (int r = 0; r < runs && !bad; r++) {
        const int32_t n = 1 + rand() % S_MAX_PARTS;
        for (int32_t i = 0; i < n; i++) {
            parts[i] = (s_part_t){.runs = 0, .thread = -1, .work = rand() % 20};
            ptrs[i] = &parts[i];
        }
        if (cg_workers_run(w, s_part_run, ptrs, n) != CG_OK)
            bad = 1;
        for (int32_t i = 0; i < n; i++)
            if (parts[i].runs != 1 || parts[i].thread < 0 || parts[i].thread > n_workers)
                bad = 1;
        const long gap = gap_us >= 0 ? gap_us : rand() % 400;
        if (gap > 0)
            s_sleep_us(gap);
    }
    CU_ASSERT_EQUAL(bad, 0);
    cg_workers_destroy(&w);
    CU_ASSERT_PTR_NULL(w);
}

static void test_back_to_back(void)
{
    s_check_runs(1, 10000, 0, 1);
    s_check_runs(3, 5000, 0, 2);
}

static void test_asleep_between_runs(void)
{
    s_check_runs(1, 200, 2000, 3); /* 2 ms: every worker is asleep in its pipe */
    s_check_runs(2, 200, 2000, 4);
}

static void test_across_the_watch_window(void)
{
    s_check_runs(1, 3000, -1, 5);
    s_check_runs(2, 3000, -1, 6);
    s_check_runs(4, 1000, -1, 7);
}

static void test_destroy_watching_or_asleep(void)
{
    /* a worker watching for its next job sees the stop at once and closes its end, maybe
     * before the stop's doorbell is sent: that send must not wait (it hung once, 1 time in
     * a few hundred) */
    for (int k = 0; k < 3000; k++) {
        char err[256] = "";
        cg_workers_t *w = cg_workers_new(1 + k % 3, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(w);
        s_part_t parts[3] = {{0}};
        void *ptrs[3] = {&parts[0], &parts[1], &parts[2]};
        if (k % 4 != 0) /* else destroyed right after it was made */
            CU_ASSERT_EQUAL(cg_workers_run(w, s_part_run, ptrs, 3), CG_OK);
        if (k % 50 == 1)
            s_sleep_us(1000); /* asleep; otherwise still watching */
        cg_workers_destroy(&w);
        CU_ASSERT_PTR_NULL(w);
    }
    cg_workers_destroy(NULL);
}

int main(void)
{
    CU_TestInfo tests[] = {
        {"back_to_back", test_back_to_back},
        {"asleep_between_runs", test_asleep_between_runs},
        {"across_the_watch_window", test_across_the_watch_window},
        {"destroy_watching_or_asleep", test_destroy_watching_or_asleep},
        CU_TEST_INFO_NULL,
    };
    return cg_test_run("workers", tests, NULL, NULL);
}
