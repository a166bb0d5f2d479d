/* ck_escape (what stands between a hostile tensor name and the terminal) and ck_error_format. */
#include "inspect/error.h"
#include "tests/check.h"

static const char *esc(const char *s, size_t n)
{
    static char buf[256];
    ck_escape(buf, sizeof buf, s, n);
    return buf;
}

static void test_escape_controls(void)
{
    CHECK_STR(esc("a\x1b[2Jb", 6), "a\\x1b[2Jb");
    CHECK_STR(esc("x\r\n\x7f", 4), "x\\x0d\\x0a\\x7f");
    CHECK_STR(esc("nul\0in", 6), "nul\\x00in");
}

static void test_escape_unicode(void)
{
    CHECK_STR(esc("caf\xc3\xa9", 5), "caf\xc3\xa9");                 /* ordinary UTF-8 passes */
    CHECK_STR(esc("c\xc2\x9b" "d", 4), "c\\u009bd");                  /* C1 CSI */
    CHECK_STR(esc("e\xe2\x80\xae" "f", 5), "e\\u202ef");              /* right-to-left override */
    CHECK_STR(esc("i\xe2\x81\xa6" "j", 5), "i\\u2066j");              /* isolate */
    CHECK_STR(esc("bad\xff", 4), "bad\\xff");                         /* not UTF-8 */
    CHECK_STR(esc("cut\xe2\x80", 5), "cut\\xe2\\x80");                /* truncated sequence */
    CHECK_STR(esc("q'\"\\", 4), "q\\'\\\"\\\\");
}

static void test_escape_truncates_safely(void)
{
    char small[6];
    ck_escape(small, sizeof small, "\x1b\x1b\x1b", 3);
    CHECK_STR(small, "\\x1b"); /* never half an escape */
}

static void test_error_format(void)
{
    ck_error e;
    char line[256];
    ck_error_set(&e, CK_E_FORMAT, "m.safetensors", "w\x1b", 812, "bad %s", "thing");
    ck_error_format(&e, line, sizeof line);
    CHECK_STR(line, "m.safetensors: key 'w\\x1b' at byte 812: bad thing");
    ck_error_set(&e, CK_E_IO, "m.safetensors", NULL, -1, "gone");
    ck_error_format(&e, line, sizeof line);
    CHECK_STR(line, "m.safetensors: gone");
}

int main(void)
{
    RUN_TEST("error", test_escape_controls);
    RUN_TEST("error", test_escape_unicode);
    RUN_TEST("error", test_escape_truncates_safely);
    RUN_TEST("error", test_error_format);
    TEST_EXIT();
}
