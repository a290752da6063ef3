
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Writing Redis commands (RESP) for every client of redis/: hiredis is
 * only the reader of replies.
 */


#include "ngx_api_led_redis.h"


/*
 * A command in RESP, byte for byte what hiredis's redisFormatCommandArgv()
 * writes, in memory of malloc() (so that redisFreeCommand() frees it):
 * hiredis writes each length with sprintf(), which took a fifth of the
 * instructions of a request limited in Redis (a shared call carries the
 * arguments of every request it counts).  The length, or -1.
 */

int
ngx_api_led_redis_format(char **out, int argc, const char **argv,
    const size_t *argvlen)
{
    int      i;
    size_t   len;
    u_char  *cmd, *p;

    *out = NULL;

    if (argc < 0) {
        return -1;
    }

    /* "*N\r\n", then "$LEN\r\nARG\r\n" each */

    len = 1 + NGX_INT_T_LEN + 2;

    for (i = 0; i < argc; i++) {
        len += 1 + NGX_SIZE_T_LEN + 2 + argvlen[i] + 2;
    }

    if (len > INT_MAX) {
        return -1;
    }

    cmd = ngx_alloc(len, ngx_cycle->log);
    if (cmd == NULL) {
        return -1;
    }

    p = cmd;
    *p++ = '*';
    p = ngx_api_led_uint_dump(p, (uint64_t) argc);
    *p++ = CR; *p++ = LF;

    for (i = 0; i < argc; i++) {
        *p++ = '$';
        p = ngx_api_led_uint_dump(p, argvlen[i]);
        *p++ = CR; *p++ = LF;
        p = ngx_cpymem(p, argv[i], argvlen[i]);
        *p++ = CR; *p++ = LF;
    }

    *out = (char *) cmd;

    return (int) (p - cmd);
}
