/* tests/tools/test_escape.c - the escaping of image strings (tools/escape.c): what reaches a
 * terminal has no control byte, no C1 control and no bidirectional override, and every byte
 * can still be told; what reaches JSON is valid UTF-8 with the same hazards escaped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/escape.h"

/* What fn writes for len bytes of s, as a NUL-terminated string (tests free it). */
static char *capture(void (*fn)(FILE *, const char *, size_t), const char *s, size_t len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_non_null(f);
    fn(f, s, len);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void text_is(const char *in, size_t len, const char *want)
{
    char *got = capture(crs_print_escaped, in, len);
    assert_string_equal(got, want);
    char buf[256];
    if (strlen(in) == len) {          /* the buffer form says the same */
        crs_escape_str(buf, sizeof buf, in);
        assert_string_equal(buf, want);
    }
    free(got);
}

static void json_is(const char *in, size_t len, const char *want)
{
    char *got = capture(crs_json_string, in, len);
    assert_string_equal(got, want);
    free(got);
}

static void test_text_plain_and_utf8_kept(void **state)
{
    (void)state;
    text_is("hello world", 11, "hello world");
    text_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    text_is("", 0, "");
}

static void test_text_controls_escaped(void **state)
{
    (void)state;
    text_is("\x1b[31mred\x1b[0m", 12, "\\x1b[31mred\\x1b[0m");
    text_is("a\nb\tc\rd\x7f", 8, "a\\nb\\tc\\rd\\x7f");
    text_is("back\\slash", 10, "back\\\\slash");
    text_is("nul\0byte", 8, "nul\\x00byte");
    /* C1 controls (U+009B is CSI on some terminals) and bidirectional overrides */
    text_is("\xc2\x9b" "31m", 5, "\\xc2\\x9b31m");
    text_is("abc\xe2\x80\xae" "txt", 9, "abc\\u202etxt");
    text_is("\xe2\x81\xa6x", 4, "\\u2066x");
}

static void test_text_invalid_utf8_escaped(void **state)
{
    (void)state;
    text_is("\xff\xfe", 2, "\\xff\\xfe");
    text_is("\xc3", 1, "\\xc3");                       /* cut short */
    text_is("\xc0\xaf", 2, "\\xc0\\xaf");              /* overlong '/' */
    text_is("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");     /* a surrogate */
    text_is("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
    text_is("\xe2\x82" "A", 3, "\\xe2\\x82A");
}

static void test_text_no_raw_hazard_ever(void **state)
{
    (void)state;
    /* every byte value, alone and after a lead byte: never a raw control in the output */
    char in[2];
    for (int lead = 0; lead < 256; lead++)
        for (int b = 0; b < 256; b++) {
            in[0] = (char)lead;
            in[1] = (char)b;
            char *got = capture(crs_print_escaped, in, 2);
            for (const unsigned char *p = (const unsigned char *)got; *p; p++)
                assert_true(*p >= 0x20 && *p != 0x7f);
            assert_null(strstr(got, "\xc2\x9b"));
            free(got);
        }
}

static void test_escape_str_truncates(void **state)
{
    (void)state;
    char buf[6];
    crs_escape_str(buf, sizeof buf, "\x1b\x1b\x1b");
    assert_int_equal(strlen(buf), 5);
    assert_memory_equal(buf, "\\x1b\\", 5);
    assert_string_equal(crs_escape_str(buf, sizeof buf, NULL), "?");
}

static void test_json(void **state)
{
    (void)state;
    json_is("plain", 5, "\"plain\"");
    json_is("q\"b\\", 4, "\"q\\\"b\\\\\"");
    json_is("\x1b[0m\n\x01\x7f", 7, "\"\\u001b[0m\\n\\u0001\\u007f\"");
    json_is("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
    json_is("\xc2\x9b\xe2\x80\xae", 5, "\"\\u009b\\u202e\"");
    json_is("a\xff" "b\xc3", 4, "\"a\\ufffdb\\ufffd\"");
    json_is("n\0l", 3, "\"n\\u0000l\"");
    char *got = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&got, &n);
    crs_json_string_str(f, NULL);
    fclose(f);
    assert_string_equal(got, "null");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_plain_and_utf8_kept),
        cmocka_unit_test(test_text_controls_escaped),
        cmocka_unit_test(test_text_invalid_utf8_escaped),
        cmocka_unit_test(test_text_no_raw_hazard_ever),
        cmocka_unit_test(test_escape_str_truncates),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
