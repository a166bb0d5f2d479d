/* Back-end registry and selection. The CPU is always there; CUDA only when compiled in
 * (CK_HAVE_CUDA) and a device answers. `auto` prefers CUDA, as ggml's init_best prefers a GPU. */
#include <stdio.h>
#include <string.h>

#include "kernels/backend.h"
#ifdef CK_HAVE_CUDA
#include "kernels/cuda/backend_cuda.h"
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
    return ck_cuda_available(why, 256);
#else
    if (why) snprintf(why, 256, "CUDA support was not compiled in (no nvcc at build time)");
    return false;
#endif
}

ck_backend *ck_backend_create(ck_backend_kind kind, int threads, char *why, ck_error *err)
{
    char cuda_why[256] = "";
    if (kind != CK_BACKEND_CPU) {
        if (ck_backend_cuda_available(cuda_why)) {
#ifdef CK_HAVE_CUDA
            ck_backend *be = ck_cuda_backend_create(threads, err);
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
