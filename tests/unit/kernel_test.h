/* Shared by the kernel tests: a seeded xorshift generator (each test file picks its own seed) and
 * the thread counts every op is run with (results must be identical for all of them). */
#ifndef CK_KERNEL_TEST_H
#define CK_KERNEL_TEST_H

#include <stdint.h>

#include "kernels/backend.h"

static const int thread_counts[] = {1, 2, 3, 7};
#define NT (int)(sizeof thread_counts / sizeof *thread_counts)
static ck_backend *be[NT];

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static uint64_t rnd_upto(uint64_t n) { return n ? rnd() % n : 0; }

#endif
