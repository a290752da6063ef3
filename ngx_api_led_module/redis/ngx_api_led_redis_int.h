
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Private to the Redis service (the files of redis/): the configuration,
 * a worker's client, its nodes and its waiting commands.  Nothing outside
 * redis/ includes it: the other concerns use ngx_api_led_redis.h.
 *
 * The files call one way:
 *
 *   ngx_api_led_redis_cmd.c       any command (the events'), blocking clients
 *   -> ngx_api_led_redis.c        the client: scripts, routing,
 *                                 redirections and retries
 *     -> _cluster.c, _sentinel.c  the topologies: the slot map, the master
 *       -> _node.c                one node's connection: TLS, handshake,
 *                                 pipelining, the circuit
 *         -> _module.c            ngx_api_led_redis_module: directives
 *
 * A lower file reaches a higher one only through the function pointers of
 * the client (ngx_api_led_redis_t): a node hands a reply or its failure to
 * the client that way.
 */


#ifndef _NGX_API_LED_REDIS_INT_H_INCLUDED_
#define _NGX_API_LED_REDIS_INT_H_INCLUDED_


#include "ngx_api_led_redis.h"
#include <hiredis/hiredis.h>


extern ngx_module_t  ngx_api_led_redis_module;


#define NGX_API_LED_REDIS_SINGLE        0
#define NGX_API_LED_REDIS_CLUSTER       1
#define NGX_API_LED_REDIS_SENTINEL      2

#define NGX_API_LED_REDIS_BACKOFF_MIN   100
#define NGX_API_LED_REDIS_BACKOFF_MAX   2000
#define NGX_API_LED_REDIS_ERROR_LOG_GAP 1000

/* a command's redirections (MOVED, ASK) before it is given up */
#define NGX_API_LED_REDIS_REDIRECTS     5
/* TRYAGAIN, CLUSTERDOWN: the first pause before a retry, then doubled */
#define NGX_API_LED_REDIS_RETRY_DELAY   10
/* the slot map is read again this often, and after a redirection */
#define NGX_API_LED_REDIS_REFRESH       5000
/* at most one map read this often when redirections keep coming */
#define NGX_API_LED_REDIS_REFRESH_GAP   100
/* the nodes a worker's client may know (a cluster's masters, seeds) */
#define NGX_API_LED_REDIS_MAX_NODES     1024


/* what a node is to its client */
#define NGX_API_LED_REDIS_ROLE_DATA     0   /* commands */
#define NGX_API_LED_REDIS_ROLE_SENTINEL 1   /* Sentinel queries */
#define NGX_API_LED_REDIS_ROLE_SUB      2   /* +switch-master messages */


/* a waiter's kind: only REQUEST is the client's, the others the node's */
#define NGX_API_LED_REDIS_REQUEST       0
#define NGX_API_LED_REDIS_AUTH          1
#define NGX_API_LED_REDIS_SELECT        2
#define NGX_API_LED_REDIS_LOAD          3
#define NGX_API_LED_REDIS_ROLE          4
#define NGX_API_LED_REDIS_ASKING        5


typedef struct ngx_api_led_redis_node_s  ngx_api_led_redis_node_t;


struct ngx_api_led_redis_script_s {
    ngx_str_t                      text;
    u_char                         sha[40];
};


/* api_led_redis and the api_led_redis_tls_* directives: read-only once
   loaded */
struct ngx_api_led_redis_conf_s {
    ngx_array_t                    addrs;     /* ngx_addr_t: the address,
                                                 seeds or Sentinels */
    ngx_uint_t                     mode;
    ngx_str_t                      master;    /* sentinel=NAME */
    ngx_str_t                      user;
    ngx_str_t                      password;
    ngx_int_t                      db;
    ngx_msec_t                     connect_timeout;
    ngx_msec_t                     timeout;
    ngx_array_t                    scripts;   /* ngx_api_led_redis_script_t * */

    ngx_flag_t                     tls;
    ngx_ssl_t                     *ssl;
    ngx_str_t                      tls_name;  /* SNI and the name checked */
    ngx_str_t                      tls_trusted;
    ngx_str_t                      tls_certificate;
    ngx_str_t                      tls_certificate_key;

    /* the metrics of its nodes (ngx_api_led_redis_set_observer()) */
    ngx_api_led_redis_observer_pt  observer;
    void                          *observer_data;
};


typedef struct {
    ngx_api_led_redis_conf_t      *redis;     /* NULL: no api_led_redis */
    ngx_flag_t                     used;      /* some concern sends */

    /* the api_led_redis_tls_* directives, wherever they come in http{} */
    ngx_str_t                      tls_name;
    ngx_str_t                      tls_trusted;
    ngx_str_t                      tls_certificate;
    ngx_str_t                      tls_certificate_key;
    u_char                        *tls_file;
    ngx_uint_t                     tls_line;
} ngx_api_led_redis_main_conf_t;


/*
 * A command from its queueing to its answer.  Its formatted text is kept
 * until then: a redirection sends it again, NOSCRIPT as EVAL.
 */
struct ngx_api_led_redis_waiter_s {
    ngx_queue_t                    queue;     /* a node's FIFO, the parked */
    ngx_api_led_redis_node_t      *node;      /* NULL: parked */
    ngx_api_led_redis_handler_pt   handler;   /* NULL: nobody waits */
    void                          *data;
    ngx_msec_t                     deadline;
    ngx_msec_t                     start;     /* written, for the metrics */
    ngx_msec_t                     retry_at;  /* parked: 0 on a new map */
    char                          *cmd;
    size_t                         len;
    ngx_api_led_redis_script_t    *script;    /* EVALSHA: NOSCRIPT */
    ngx_uint_t                     kind;
    ngx_uint_t                     slot;      /* cluster: the key's slot */
    ngx_uint_t                     tries;     /* redirections and retries */
    unsigned                       keyed:1;   /* slot is set */
    unsigned                       errors:1;  /* error replies to handler */
    unsigned                       refusals:1; /* WRONGTYPE, NOPERM too */
    unsigned                       held:1;    /* not written yet */
    unsigned                       parked:1;  /* in the client's parked */
    unsigned                       too_large:1; /* its reply was refused */
};


struct ngx_api_led_redis_node_s {
    ngx_queue_t                    queue;     /* the client's nodes */
    ngx_api_led_redis_t           *client;
    ngx_uint_t                     role;

    ngx_addr_t                     addr;
    ngx_sockaddr_t                 sockaddr;
    u_char                         text[NGX_SOCKADDR_STRLEN];
    unsigned                       has_addr:1;

    ngx_log_t                      log;
    ngx_peer_connection_t          peer;
    ngx_connection_t              *c;
    redisReader                   *reader;
    size_t                         elements;  /* of the reply being read */
    size_t                         refused;   /* an array over the bound */

    u_char                        *out;
    size_t                         out_size;
    size_t                         out_pos;
    size_t                         out_last;

    ngx_queue_t                    waiting;   /* FIFO: sent, then held */

    ngx_event_t                    timer;     /* the oldest reply's deadline */
    ngx_event_t                    reconnect;
    ngx_msec_t                     backoff;
    ngx_msec_t                     retry_at;

    ngx_uint_t                     generation; /* of the connection */
    ngx_uint_t                     handshake; /* handshake replies expected */
    ngx_uint_t                     nslots;    /* cluster: slots it serves */
    ngx_uint_t                     state;     /* NGX_API_LED_REDIS_NODE_*,
                                                 as the metrics know it */

    /* ROLE_SUB: every reply is a message */
    void                         (*push)(ngx_api_led_redis_node_t *node,
                                         redisReply *reply);

    unsigned                       connected:1;
    unsigned                       ready:1;   /* handshake done */
    unsigned                       down:1;    /* circuit open */
    unsigned                       loading:1; /* SCRIPT LOAD after NOSCRIPT */
};


/* a worker's client: made at init_process, never in the configuration */
struct ngx_api_led_redis_s {
    ngx_api_led_redis_conf_t      *conf;
    ngx_pool_t                    *pool;      /* its nodes: the worker's life */
    ngx_log_t                      log;

    ngx_queue_t                    nodes;
    ngx_uint_t                     nnodes;
    ngx_api_led_redis_node_t      *master;    /* single, Sentinel */
    ngx_queue_t                    free;      /* waiters */

    /* commands waiting for a retry or a map (cluster) or a master */
    ngx_queue_t                    parked;
    ngx_event_t                    retry;

    /* cluster */
    ngx_api_led_redis_node_t     **slots;     /* NULL: no map yet */
    ngx_event_t                    refresh;
    ngx_msec_t                     refreshed;
    ngx_uint_t                     seed;      /* the node asked next */
    ngx_api_led_redis_waiter_t    *reading;   /* the map read in flight */
    ngx_api_led_redis_node_t      *reader;    /* the node it was sent to */
    ngx_api_led_redis_node_t     **next;      /* the map being read */
    unsigned                       mapped:1;  /* a map was read */

    /* Sentinel */
    ngx_api_led_redis_node_t     **sentinels;
    ngx_uint_t                     nsentinels;
    ngx_uint_t                     sentinel;  /* the one asked next */
    ngx_uint_t                     asked;     /* Sentinels asked this round */
    ngx_api_led_redis_node_t      *sub;
    ngx_event_t                    discover;
    ngx_api_led_redis_waiter_t    *asking;    /* the query in flight */

    ngx_uint_t                     outage;    /* failures seen, for warnings */

    /* ngx_api_led_redis_log_due(): when a condition was logged last */
    ngx_msec_t                     error_logged;
    ngx_msec_t                     redirect_logged;
    ngx_msec_t                     slots_logged;    /* the slot map */
    ngx_msec_t                     announce_logged; /* a node's address */

    /* a node's reply to a request or its failure (reply NULL) */
    void                         (*reply)(ngx_api_led_redis_t *rd,
                                          ngx_api_led_redis_waiter_t *w,
                                          redisReply *reply);
    /* a node's connection failed (its waiters were answered) */
    void                         (*node_down)(ngx_api_led_redis_node_t *node);
    /* a node's backoff is over: NULL reconnects at once */
    void                         (*reconnect)(ngx_api_led_redis_node_t *node);
    /* a new slot map or master: the parked commands go again */
    void                         (*changed)(ngx_api_led_redis_t *rd);

    unsigned                       blocking:1; /* for blocking reads */
    unsigned                       failing:1; /* last command failed */
    unsigned                       again:1;   /* cluster: read the map again */
    unsigned                       destroyed:1;
    unsigned                       too_large:1; /* the handler called now
                                                   got NULL for its
                                                   reply's size */
};



/*
 * A condition that every command or every read of the slot map meets
 * again (an error reply, a redirection loop, a map that cannot be read)
 * is logged at most once a second per client: whether its line goes now.
 * "logged" keeps when it went last (0: never).
 */

static ngx_inline ngx_uint_t
ngx_api_led_redis_log_due(ngx_msec_t *logged)
{
    if (*logged
        && ngx_current_msec - *logged < NGX_API_LED_REDIS_ERROR_LOG_GAP)
    {
        return 0;
    }

    *logged = ngx_current_msec ? ngx_current_msec : 1;

    return 1;
}


/* ngx_api_led_redis.c */
ngx_api_led_redis_t *ngx_api_led_redis_create_client(ngx_cycle_t *cycle,
    ngx_api_led_redis_conf_t *rcf, ngx_uint_t blocking);
ngx_int_t ngx_api_led_redis_submit(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *tmpl, ngx_uint_t argc, ngx_str_t *argv,
    const char *first, size_t first_len, const char *second,
    size_t second_len);

/* ngx_api_led_redis_node.c */
ngx_api_led_redis_node_t *ngx_api_led_redis_node_add(ngx_api_led_redis_t *rd,
    ngx_uint_t role, ngx_addr_t *addr);
ngx_int_t ngx_api_led_redis_node_set_addr(ngx_api_led_redis_node_t *node,
    struct sockaddr *sa, socklen_t socklen);
ngx_api_led_redis_node_t *ngx_api_led_redis_node_find(
    ngx_api_led_redis_t *rd, struct sockaddr *sa, socklen_t socklen);
void ngx_api_led_redis_node_destroy(ngx_api_led_redis_node_t *node);
ngx_int_t ngx_api_led_redis_node_usable(ngx_api_led_redis_node_t *node);
void ngx_api_led_redis_node_connect(ngx_api_led_redis_node_t *node);
ngx_api_led_redis_waiter_t *ngx_api_led_redis_waiter_new(
    ngx_api_led_redis_t *rd, int argc, const char **argv,
    const size_t *argvlen);
void ngx_api_led_redis_waiter_free(ngx_api_led_redis_t *rd,
    ngx_api_led_redis_waiter_t *w);
ngx_int_t ngx_api_led_redis_node_queue(ngx_api_led_redis_node_t *node,
    ngx_api_led_redis_waiter_t *w);
ngx_int_t ngx_api_led_redis_node_raw(ngx_api_led_redis_node_t *node,
    int argc, const char **argv, const size_t *argvlen);
void ngx_api_led_redis_node_fail(ngx_api_led_redis_node_t *node,
    ngx_err_t err, const char *reason);
void ngx_api_led_redis_node_close(ngx_api_led_redis_node_t *node);
void ngx_api_led_redis_node_reset(ngx_api_led_redis_node_t *node);
ngx_int_t ngx_api_led_redis_addr_parse(ngx_sockaddr_t *sa,
    socklen_t *socklen, u_char *host, size_t len, ngx_int_t port);
ngx_api_led_redis_node_t *ngx_api_led_redis_node_get(ngx_api_led_redis_t *rd,
    ngx_sockaddr_t *sa, socklen_t socklen);

/* ngx_api_led_redis_cluster.c */
ngx_int_t ngx_api_led_redis_cluster_init(ngx_api_led_redis_t *rd);
void ngx_api_led_redis_cluster_refresh(ngx_api_led_redis_t *rd);
ngx_api_led_redis_node_t *ngx_api_led_redis_cluster_redirect(
    ngx_api_led_redis_t *rd, redisReply *reply, ngx_uint_t moved);

/* ngx_api_led_redis_sentinel.c */
ngx_int_t ngx_api_led_redis_sentinel_init(ngx_api_led_redis_t *rd);
void ngx_api_led_redis_sentinel_discover(ngx_api_led_redis_t *rd);


#endif /* _NGX_API_LED_REDIS_INT_H_INCLUDED_ */
