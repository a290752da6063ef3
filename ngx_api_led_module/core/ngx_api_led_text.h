
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Text that leaves the module: error messages in fixed-size buffers
 * (core/ngx_api_led_text.c).
 */


#ifndef _NGX_API_LED_TEXT_H_INCLUDED_
#define _NGX_API_LED_TEXT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * printf-style (ngx_vslprintf) into err[size]: at most size - 1 bytes and
 * always a terminating NUL, however long the message grows.  Returns the
 * end (the NUL).  Every fixed-size error buffer is written through it.
 */
u_char *ngx_api_led_errf(u_char *err, size_t size, const char *fmt, ...);


#endif /* _NGX_API_LED_TEXT_H_INCLUDED_ */
