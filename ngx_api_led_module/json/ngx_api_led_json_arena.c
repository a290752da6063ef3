
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The request-pool arena jansson allocates from while a document is worked
 * on.
 */


#include "ngx_api_led_json.h"


/*
 * The arena.  jansson allocates every value with malloc() and frees it one
 * by one; for a document that lives for one request that is most of the
 * cost (and the fastbin churn makes glibc consolidate on the next large
 * allocation).  Inside a window opened by ngx_api_led_json_arena_enter(),
 * jansson allocates from blocks of the request pool instead and frees
 * nothing; the pool releases the blocks with the request.
 *
 * jansson's allocator is one per process (json_set_alloc_funcs()), and
 * another module in the same nginx may have set its own.  So the window
 * changes it only while it is open, and gives back whatever it found
 * (json_get_alloc_funcs()), not malloc() and free(): outside the windows
 * the process's allocator is the one it would be without this module.
 * Inside, memory outside the blocks (a value built before the window)
 * is freed, and a very large document's memory past the blocks
 * allocated, with the allocator found.
 *
 * A window is short and synchronous: opened and closed in one function,
 * never across a return to the event loop, so no other request, timer or
 * module runs while it is open.  Nothing allocated in it outlives the
 * request: the documents are parsed, edited and released inside windows.
 * Variables are evaluated outside of any window (their handlers may use
 * jansson for their own purposes).  The limit of the approach: a thread
 * of nginx's thread pools that used jansson while a window is open would
 * allocate from the arena (no module does that today; a module that did
 * would race with any process-wide allocator change).
 */

#define NGX_API_LED_JSON_ARENA_BLOCKS  32
#define NGX_API_LED_JSON_ARENA_FIRST   (16 * 1024)

typedef struct {
    u_char                      *start;
    u_char                      *end;
} ngx_api_led_json_block_t;

struct ngx_api_led_json_arena_s {
    ngx_pool_t                  *pool;
    u_char                      *pos;
    u_char                      *last;
    size_t                       next_size;
    ngx_uint_t                   nblocks;
    ngx_api_led_json_block_t     blocks[NGX_API_LED_JSON_ARENA_BLOCKS];
};


static ngx_api_led_json_arena_t  *ngx_api_led_json_arena_current;

/* the allocator found when the window opened, given back when it closes */
static json_malloc_t  ngx_api_led_json_outer_malloc;
static json_free_t    ngx_api_led_json_outer_free;


static void *
ngx_api_led_json_arena_alloc(size_t size)
{
    u_char                    *p;
    size_t                     bsize;
    ngx_api_led_json_arena_t  *a;

    a = ngx_api_led_json_arena_current;

    size = ngx_align(size ? size : 1, 16);

    if ((size_t) (a->last - a->pos) < size) {

        if (a->nblocks == NGX_API_LED_JSON_ARENA_BLOCKS) {
            /* very large documents: the rest from the outer allocator */
            return ngx_api_led_json_outer_malloc(size);
        }

        bsize = ngx_max(a->next_size, size);

        p = ngx_palloc(a->pool, bsize);
        if (p == NULL) {
            return NULL;
        }

        a->blocks[a->nblocks].start = p;
        a->blocks[a->nblocks].end = p + bsize;
        a->nblocks++;

        a->pos = p;
        a->last = p + bsize;
        a->next_size = bsize * 2;
    }

    p = a->pos;
    a->pos += size;

    return p;
}


static void
ngx_api_led_json_arena_free(void *ptr)
{
    ngx_uint_t                 i;
    ngx_api_led_json_arena_t  *a;

    if (ptr == NULL) {
        return;
    }

    a = ngx_api_led_json_arena_current;

    for (i = 0; i < a->nblocks; i++) {
        if ((u_char *) ptr >= a->blocks[i].start
            && (u_char *) ptr < a->blocks[i].end)
        {
            return;
        }
    }

    ngx_api_led_json_outer_free(ptr);
}


ngx_api_led_json_arena_t *
ngx_api_led_json_arena_create(ngx_pool_t *pool)
{
    ngx_api_led_json_arena_t  *a;

    a = ngx_pcalloc(pool, sizeof(ngx_api_led_json_arena_t));
    if (a == NULL) {
        return NULL;
    }

    a->pool = pool;
    a->next_size = NGX_API_LED_JSON_ARENA_FIRST;

    return a;
}


/*
 * Makes "a" the current arena (NULL: none, jansson back on the allocator
 * the outermost window found) and returns the one before, to give back to
 * ngx_api_led_json_arena_leave().
 */

ngx_api_led_json_arena_t *
ngx_api_led_json_arena_enter(ngx_api_led_json_arena_t *a)
{
    ngx_api_led_json_arena_t  *prev;

    prev = ngx_api_led_json_arena_current;

    if (a == prev) {
        return prev;
    }

    ngx_api_led_json_arena_current = a;

    if (a && prev == NULL) {
        json_get_alloc_funcs(&ngx_api_led_json_outer_malloc,
                             &ngx_api_led_json_outer_free);

        ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "api_led: json window opened, jansson allocator: %s",
                       ngx_api_led_json_outer_malloc == malloc
                       ? "malloc" : "another");

        json_set_alloc_funcs(ngx_api_led_json_arena_alloc,
                             ngx_api_led_json_arena_free);

    } else if (a == NULL) {
        json_set_alloc_funcs(ngx_api_led_json_outer_malloc,
                             ngx_api_led_json_outer_free);

        ngx_log_debug0(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "api_led: json window closed, jansson allocator "
                       "given back");
    }

    return prev;
}


void
ngx_api_led_json_arena_leave(ngx_api_led_json_arena_t *prev)
{
    (void) ngx_api_led_json_arena_enter(prev);
}
