/* A minimal test harness: each test binary prints one "PASS: suite/test" or "FAIL: suite/test"
 * line per test (tests/run.sh counts them) and exits non-zero if any failed. */
#ifndef CK_TEST_CHECK_H
#define CK_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int ck_test_failed_now;
static int ck_test_failures;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ck_test_failed_now = 1;                                                    \
        }                                                                              \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                          \
    do {                                                                                            \
        unsigned long long ck_a_ = (unsigned long long)(a), ck_b_ = (unsigned long long)(b);        \
        if (ck_a_ != ck_b_) {                                                                       \
            fprintf(stderr, "  %s:%d: %s == %llu, expected %s == %llu\n", __FILE__, __LINE__, #a, \
                    ck_a_, #b, ck_b_);                                                              \
            ck_test_failed_now = 1;                                                                 \
        }                                                                                           \
    } while (0)

#define CHECK_STR(a, b)                                                                         \
    do {                                                                                        \
        const char *ck_a_ = (a), *ck_b_ = (b);                                                  \
        if (!ck_a_ || !ck_b_ || strcmp(ck_a_, ck_b_) != 0) {                                    \
            fprintf(stderr, "  %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    ck_a_ ? ck_a_ : "(null)", ck_b_ ? ck_b_ : "(null)");                        \
            ck_test_failed_now = 1;                                                             \
        }                                                                                       \
    } while (0)

#define RUN_TEST(suite, fn)                                                  \
    do {                                                                     \
        ck_test_failed_now = 0;                                              \
        fn();                                                                \
        printf("%s: %s/%s\n", ck_test_failed_now ? "FAIL" : "PASS", suite, #fn); \
        fflush(stdout);                                                      \
        ck_test_failures += ck_test_failed_now;                              \
    } while (0)

#define TEST_EXIT() return ck_test_failures ? 1 : 0

#endif
