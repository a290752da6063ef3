
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Text that leaves the module: error messages that always end in a NUL
 * (ngx_snprintf does not terminate a truncated buffer: stack bytes would
 * follow the message into the log).
 */


#include "ngx_api_led.h"


u_char *
ngx_api_led_errf(u_char *err, size_t size, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    if (size == 0) {
        return err;
    }

    va_start(args, fmt);
    p = ngx_vslprintf(err, err + size - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return p;
}
