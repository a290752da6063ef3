
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Stream ids and stream entries (events/ngx_api_led_event.c): what the
 * events' readers share.  Byte 0 chooses:
 *
 *   bit 0 = 0  the rest is two ids, "A\nB": ngx_api_led_event_id_valid()
 *              and ngx_api_led_event_id_cmp();
 *   bit 0 = 1  the rest is a Redis reply (RESP), read by hiredis's reader
 *              and handed to ngx_api_led_event_entries(), at most
 *              (byte 0 >> 1) & 31 entries.
 *
 * Properties:
 *
 *   - an id is valid exactly when it is "MS" or "MS-SEQ", decimal, each
 *     number fitting 64 bits unsigned (Redis's ids);
 *   - valid ids compare as their numbers do ("MS" is "MS-0"): reflexive,
 *     antisymmetric, and as a model comparing digit strings says;
 *   - the entries read from any reply: no crash, no more than asked,
 *     every id valid, a deleted entry (nil fields) without type or event.
 *
 * Known (FUZZ_KNOWN=1, crashes/stream_id/id-above-64-bits,
 * crashes/stream_id/ms-of-31-digits): an id whose number is above
 * 18446744073709551615 (20 digits above it; or any number of digits before
 * the "-", which is not counted) is accepted, and compares as its value
 * modulo 2^64.
 */


#include "harness.h"
#include "ngx_api_led_event.h"


#define MAX_ENTRIES  32


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const uint8_t  *input;
static size_t          input_size;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init();
    return 0;
}


static void
failed(const char *what, ngx_str_t *a, ngx_str_t *b)
{
    fz_dump("input", input, input_size);

    if (a) {
        fz_dump("id", a->data, a->len);
    }

    if (b) {
        fz_dump("id", b->data, b->len);
    }

    fz_fail("%s", what);
}


/* a number: digits, 1 or more; "above" when past 2^64 - 1 */

static int
model_number(u_char *p, size_t n, int *above)
{
    size_t  i;

    if (n < 1) {
        return 0;
    }

    /* more than 20 digits (leading zeros count): refused, as too big */
    if (n > 20) {
        *above = 1;
    }

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }

    /* only a number of 20 digits can pass 2^64 - 1: compare as text */
    if (n == 20 && ngx_memcmp(p, "18446744073709551615", 20) > 0) {
        *above = 1;
    }

    return 1;
}


static int
model_valid(ngx_str_t *id, int *above)
{
    u_char  *dash;

    *above = 0;

    dash = ngx_strlchr(id->data, id->data + id->len, '-');

    if (dash == NULL) {
        return model_number(id->data, id->len, above);
    }

    return model_number(id->data, dash - id->data, above)
           && model_number(dash + 1, id->data + id->len - dash - 1, above);
}


/* numbers as digit strings: leading zeros aside, longer is larger */

static int
model_cmp_number(u_char *a, size_t an, u_char *b, size_t bn)
{
    int  c;

    while (an > 1 && *a == '0') {
        a++;
        an--;
    }

    while (bn > 1 && *b == '0') {
        b++;
        bn--;
    }

    if (an != bn) {
        return an < bn ? -1 : 1;
    }

    c = ngx_memcmp(a, b, an);

    return (c > 0) - (c < 0);
}


static void
model_split(ngx_str_t *id, ngx_str_t *ms, ngx_str_t *seq)
{
    u_char  *dash;

    dash = ngx_strlchr(id->data, id->data + id->len, '-');

    ms->data = id->data;
    ms->len = dash ? (size_t) (dash - id->data) : id->len;

    if (dash) {
        seq->data = dash + 1;
        seq->len = id->data + id->len - dash - 1;

    } else {
        ngx_str_set(seq, "0");
    }
}


static int
model_cmp(ngx_str_t *a, ngx_str_t *b)
{
    int        c;
    ngx_str_t  ams, aseq, bms, bseq;

    model_split(a, &ams, &aseq);
    model_split(b, &bms, &bseq);

    c = model_cmp_number(ams.data, ams.len, bms.data, bms.len);

    return c ? c : model_cmp_number(aseq.data, aseq.len, bseq.data,
                                    bseq.len);
}


static void
check_ids(u_char *p, u_char *end)
{
    int         above_a, above_b, va, vb;
    ngx_str_t   a, b;
    ngx_int_t   ok_a, ok_b, c;

    if (!fz_next(&p, end, '\n', &a)) {
        return;
    }

    if (!fz_next(&p, end, 0, &b)) {
        ngx_str_set(&b, "0-0");
    }

    ok_a = (ngx_api_led_event_id_valid(&a) == NGX_OK);
    ok_b = (ngx_api_led_event_id_valid(&b) == NGX_OK);
    va = model_valid(&a, &above_a);
    vb = model_valid(&b, &above_b);

    /* known (crashes/stream_id/id-above-64-bits) */
    if (fz_known && (above_a || above_b)) {
        return;
    }

    if (ok_a != (va && !above_a)) {
        failed(ok_a ? "an id accepted that Redis would not give"
                    : "a valid id refused", &a, NULL);
    }

    if (ok_b != (vb && !above_b)) {
        failed(ok_b ? "an id accepted that Redis would not give"
                    : "a valid id refused", &b, NULL);
    }

    if (!ok_a || !ok_b) {
        return;
    }

    if (ngx_api_led_event_id_cmp(&a, &a) != 0) {
        failed("an id is not equal to itself", &a, NULL);
    }

    c = ngx_api_led_event_id_cmp(&a, &b);

    if (c != -ngx_api_led_event_id_cmp(&b, &a)) {
        failed("the comparison is not antisymmetric", &a, &b);
    }

    if (c != model_cmp(&a, &b)) {
        failed("ids compare otherwise than their numbers", &a, &b);
    }
}


/*
 * hiredis 0.14 allocates an array's table when it reads its length: the
 * module's client bounds that (the resp target checks it); here a reply
 * that announces more than 10^5 elements is not tried.
 */

static int
huge(u_char *p, u_char *end)
{
    u_char  *q;

    for ( /* void */ ; p < end; p++) {
        if (*p != '*' && *p != '%' && *p != '~' && *p != '>') {
            continue;
        }

        for (q = p + 1; q < end && *q >= '0' && *q <= '9'; q++) {
            /* void */
        }

        if (q - p > 6) {
            return 1;
        }
    }

    return 0;
}


static void
check_entries(ngx_uint_t max, u_char *p, u_char *end)
{
    void                       *reply;
    ngx_int_t                   rc;
    ngx_uint_t                  i, n;
    redisReader                *reader;
    redisReply                 *r;
    ngx_api_led_event_entry_t   entries[MAX_ENTRIES];

    if (huge(p, end)) {
        return;
    }

    reader = redisReaderCreate();
    if (reader == NULL) {
        abort();
    }

    if (redisReaderFeed(reader, (const char *) p, end - p) != REDIS_OK
        || redisReaderGetReply(reader, &reply) != REDIS_OK
        || reply == NULL)
    {
        redisReaderFree(reader);
        return;
    }

    r = reply;

    ngx_memset(entries, 0xa5, sizeof(entries));

    rc = ngx_api_led_event_entries(r, entries, max, &n);

    if (n > max) {
        failed("more entries than asked for", NULL, NULL);
    }

    if (rc == NGX_OK) {
        for (i = 0; i < n; i++) {
            if (ngx_api_led_event_id_valid(&entries[i].id) != NGX_OK) {
                failed("an entry with an id that is not valid",
                       &entries[i].id, NULL);
            }

            if (r->element[i]->element[1]->type == REDIS_REPLY_NIL
                && (entries[i].type.len || entries[i].event.len))
            {
                failed("a deleted entry with a type or an event",
                       &entries[i].id, NULL);
            }
        }
    }

    freeReplyObject(reply);
    redisReaderFree(reader);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char  *p, *end;

    if (size < 1) {
        return 0;
    }

    input = data;
    input_size = size;

    p = (u_char *) data + 1;
    end = (u_char *) data + size;

    if (data[0] & 1) {
        check_entries(((data[0] >> 1) & 31) + 1, p, end);

    } else {
        check_ids(p, end);
    }

    return 0;
}
