#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hark/idwin.h"

static void test_hark_idwin_add__forgets_the_oldest(void **state)
{
    (void)state;
    struct hark_idwin w;
    hark_idwin_init(&w, 3);
    for (uint64_t id = 1; id <= 3; id++) {
        hark_idwin_add(&w, id);
    }
    assert_true(hark_idwin_has(&w, 1) && hark_idwin_has(&w, 3));
    hark_idwin_add(&w, 4);
    assert_false(hark_idwin_has(&w, 1));
    assert_true(hark_idwin_has(&w, 2) && hark_idwin_has(&w, 4));
    assert_false(hark_idwin_has(&w, 99));
    hark_idwin_cleanup(&w);
}

static void test_hark_idwin_add__many_with_collisions(void **state)
{
    (void)state;
    struct hark_idwin w;
    hark_idwin_init(&w, 1000);
    /* Ids that share low bits exercise probing and backward shifts. */
    for (uint64_t i = 1; i <= 5000; i++) {
        hark_idwin_add(&w, i << 20);
    }
    for (uint64_t i = 1; i <= 5000; i++) {
        assert_int_equal(hark_idwin_has(&w, i << 20), i > 4000);
    }
    hark_idwin_cleanup(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_idwin_add__forgets_the_oldest),
        cmocka_unit_test(test_hark_idwin_add__many_with_collisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
