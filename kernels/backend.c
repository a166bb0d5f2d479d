/* Back-end registry and selection. The CPU is always there; CUDA only when compiled in
 * (CK_HAVE_CUDA), its plugin loads and a device answers. `auto` prefers CUDA, as ggml's init_best
 * prefers a GPU. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/backend.h"
#ifdef CK_HAVE_CUDA
#include "kernels/cuda/backend_cuda.h"

/* The CUDA back end is a plugin, ckdoc-cuda.so beside the binary (or $CKDOC_CUDA_PLUGIN), loaded
 * the first time a back end other than the CPU is asked for: the binary then starts without the
 * CUDA runtime, and runs where there is none. */
static struct {
    pthread_once_t once;
    bool (*available)(char *why, size_t size);
    ck_backend *(*create)(int threads, ck_error *err);
    char why[256];
} cuda_plugin = {PTHREAD_ONCE_INIT};

static void cuda_plugin_load(void)
{
    char path[4096];
    const char *env = getenv("CKDOC_CUDA_PLUGIN");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
        if (n <= 0) {
            snprintf(cuda_plugin.why, sizeof cuda_plugin.why, "cannot find the CUDA plugin (no /proc/self/exe)");
            return;
        }
        path[n] = 0;
        char *slash = strrchr(path, '/');
        strcpy(slash ? slash + 1 : path, "ckdoc-cuda.so");
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(cuda_plugin.why, sizeof cuda_plugin.why, "the CUDA back end could not be loaded: %.200s", dlerror());
        return;
    }
    *(void **)&cuda_plugin.available = dlsym(h, "ck_cuda_available");
    *(void **)&cuda_plugin.create = dlsym(h, "ck_cuda_backend_create");
    if (!cuda_plugin.available || !cuda_plugin.create) {
        snprintf(cuda_plugin.why, sizeof cuda_plugin.why, "%.200s is not a ckdoc CUDA plugin", path);
        cuda_plugin.available = NULL;
        cuda_plugin.create = NULL;
    }
    /* never unloaded: the CUDA runtime does not like being unloaded */
}
#endif

bool ck_backend_kind_parse(const char *s, ck_backend_kind *out)
{
    static const struct {
        const char *name;
        ck_backend_kind kind;
    } names[] = {{"auto", CK_BACKEND_AUTO}, {"cpu", CK_BACKEND_CPU}, {"cuda", CK_BACKEND_CUDA}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].kind;
            return true;
        }
    return false;
}

bool ck_backend_cuda_available(char *why)
{
#ifdef CK_HAVE_CUDA
    pthread_once(&cuda_plugin.once, cuda_plugin_load);
    if (!cuda_plugin.available) {
        if (why) snprintf(why, 256, "%s", cuda_plugin.why);
        return false;
    }
    return cuda_plugin.available(why, 256);
#else
    if (why) snprintf(why, 256, "CUDA support was not compiled in (no nvcc at build time)");
    return false;
#endif
}

ck_backend *ck_backend_create(ck_backend_kind kind, int threads, char *why, ck_error *err)
{
    char cuda_why[256] = "";
    /* auto on a machine without the NVIDIA driver's device nodes (WSL has /dev/dxg instead): no GPU
     * can answer, so the CUDA plugin and runtime are not even loaded (every run would pay it) */
    bool no_driver = kind == CK_BACKEND_AUTO && access("/dev/nvidiactl", F_OK) != 0 && access("/dev/dxg", F_OK) != 0;
    if (no_driver) snprintf(cuda_why, sizeof cuda_why, "no GPU driver (neither /dev/nvidiactl nor WSL's /dev/dxg)");
    if (kind != CK_BACKEND_CPU && !no_driver) {
        if (ck_backend_cuda_available(cuda_why)) {
#ifdef CK_HAVE_CUDA
            ck_backend *be = cuda_plugin.create(threads, err);
            if (be && why) snprintf(why, 256, "cuda: %.200s", be->device);
            if (be || kind == CK_BACKEND_CUDA) return be;
#endif
        } else if (kind == CK_BACKEND_CUDA) {
            ck_error_set(err, CK_E_UNSUPPORTED, NULL, NULL, -1, "--backend cuda: %.400s", cuda_why);
            return NULL;
        }
    }
    ck_backend *be = ck_backend_cpu_create(threads, err);
    if (be && why) {
        if (kind == CK_BACKEND_AUTO) snprintf(why, 256, "cpu: %.100s (auto: %.140s)", be->device, cuda_why);
        else snprintf(why, 256, "cpu: %.200s", be->device);
    }
    return be;
}

void ck_backend_destroy(ck_backend *be)
{
    if (be) be->ops->destroy(be);
}
