"""The loop every interop test file shares: each test gets a scratch folder of its own, prints
"PASS: interop/<name>", "SKIP: interop/<name> (why)" (a test returning "skip: why") or
"FAIL: interop/<name>" with its traceback; the exit status is 1 if any failed."""
import os
import shutil
import sys
import tempfile
import traceback


def run(tests, prefix, name_prefix="", call=lambda test, work, index: test(work)):
    work_root = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("WORK"))
    failures = 0
    try:
        for i, test in enumerate(tests):
            name = name_prefix + test.__name__[len("test_"):]
            work = os.path.join(work_root, name)
            os.makedirs(work)
            try:
                res = call(test, work, i)
                if isinstance(res, str) and res.startswith("skip: "):
                    print("SKIP: interop/%s (%s)" % (name, res[6:]))
                else:
                    print("PASS: interop/%s" % name)
            except Exception:
                failures += 1
                print("FAIL: interop/%s" % name)
                traceback.print_exc(file=sys.stdout)
            sys.stdout.flush()
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    return 1 if failures else 0
