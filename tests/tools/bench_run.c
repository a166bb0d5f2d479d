/* bench_run: time a command the way `make bench` needs it, without GNU time or hyperfine.
 *   bench_run RUNS -- COMMAND [ARGS...]
 * runs COMMAND RUNS times (stdout and stderr to /dev/null) and prints one line:
 *   min_ms=<float> median_ms=<float> peak_rss_kb=<int> status=<exit status of the last run>
 * Peak RSS comes from wait4()'s rusage of each child, so it is the command's own. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4 || argv[2][0] != '-' || argv[2][1] != '-') {
        fprintf(stderr, "usage: bench_run RUNS -- COMMAND [ARGS...]\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    if (runs < 1) runs = 1;
    double *times = calloc((size_t)runs, sizeof *times);
    long peak_kb = 0;
    int status = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 2; }
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execvp(argv[3], argv + 3);
            _exit(127);
        }
        struct rusage ru;
        int ws;
        if (wait4(pid, &ws, 0, &ru) < 0) { perror("wait4"); return 2; }
        times[r] = now_ms() - t0;
        if (ru.ru_maxrss > peak_kb) peak_kb = ru.ru_maxrss;
        status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    }
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    printf("min_ms=%.2f median_ms=%.2f peak_rss_kb=%ld status=%d\n", times[0], times[runs / 2], peak_kb, status);
    free(times);
    return 0;
}
