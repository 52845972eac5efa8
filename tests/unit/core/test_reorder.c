#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>

#include "hark/reorder.h"

/* Values are their own numbers, stored in a table the test owns. */
static uint64_t vals[1000];

static void test_hark_reorder__gives_back_in_order(void **state)
{
    (void)state;
    struct hark_reorder r;
    hark_reorder_init(&r, 5);
    for (uint64_t i = 0; i < 1000; i++) {
        vals[i] = i + 5;
    }
    /* 1000 numbers in a scrambled order: a fixed permutation */
    uint64_t got = 5;
    for (uint64_t k = 0; k < 1000; k++) {
        uint64_t i = (k * 617) % 1000; /* 617 is prime to 1000 */
        hark_reorder_push(&r, vals[i], &vals[i]);
        uint64_t *v;
        while ((v = hark_reorder_pop(&r)) != NULL) {
            assert_int_equal(*v, got);
            got++;
        }
    }
    assert_int_equal(got, 1005);
    assert_int_equal(hark_reorder_count(&r), 0);
    assert_null(hark_reorder_pop(&r));
    hark_reorder_cleanup(&r);
}

static void test_hark_reorder__waits_for_a_gap_then_drains(void **state)
{
    (void)state;
    struct hark_reorder r;
    hark_reorder_init(&r, 0);
    vals[0] = 0;
    vals[2] = 2;
    vals[3] = 3;
    hark_reorder_push(&r, 3, &vals[3]);
    hark_reorder_push(&r, 0, &vals[0]);
    hark_reorder_push(&r, 2, &vals[2]);
    assert_ptr_equal(hark_reorder_pop(&r), &vals[0]);
    assert_null(hark_reorder_pop(&r)); /* 1 never came */
    assert_int_equal(hark_reorder_count(&r), 2);
    assert_ptr_equal(hark_reorder_take(&r), &vals[2]);
    assert_ptr_equal(hark_reorder_pop(&r), &vals[3]); /* in order again */
    assert_null(hark_reorder_take(&r));
    hark_reorder_cleanup(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hark_reorder__gives_back_in_order),
        cmocka_unit_test(test_hark_reorder__waits_for_a_gap_then_drains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
