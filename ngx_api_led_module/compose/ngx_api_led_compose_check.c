
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * Orchestration, the layer contract at nginx -t: a part whose path is
 * literal goes to a location known at configuration time.  When that
 * location's api_led_callers does not allow the layer of the composition,
 * every request would fail with 403 layer_violation: nginx -t says so
 * instead, naming both APIs.
 *
 * The location is looked up the way nginx looks it up for a request
 * (exact, longest prefix, nested locations, regular expressions in
 * order, ^~), in the server of the composition, once the location trees
 * exist (postconfiguration).
 */


#include "ngx_api_led_compose.h"


static ngx_int_t ngx_api_led_compose_check_part(ngx_conf_t *cf,
    ngx_api_led_compose_site_t *site, ngx_api_led_compose_part_conf_t *pc);
static ngx_int_t ngx_api_led_compose_literal_path(ngx_pool_t *pool,
    ngx_array_t *segs, ngx_str_t *path);
static ngx_int_t ngx_api_led_compose_find_location(
    ngx_http_core_loc_conf_t *pclcf, ngx_str_t *uri,
    ngx_http_core_loc_conf_t **loc);
static ngx_int_t ngx_api_led_compose_find_static(
    ngx_http_location_tree_node_t *node, ngx_str_t *uri,
    ngx_http_core_loc_conf_t **loc);


ngx_int_t
ngx_api_led_compose_check_layers(ngx_conf_t *cf)
{
    ngx_uint_t                        i, j;
    ngx_api_led_compose_site_t       *site;
    ngx_api_led_compose_part_conf_t  *pc;
    ngx_api_led_compose_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_api_led_compose_module);

    site = cmcf->sites.elts;

    for (i = 0; i < cmcf->sites.nelts; i++) {
        pc = site[i].comp->parts->elts;

        for (j = 0; j < site[i].comp->parts->nelts; j++) {
            if (ngx_api_led_compose_check_part(cf, &site[i], &pc[j])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_api_led_compose_check_part(ngx_conf_t *cf,
    ngx_api_led_compose_site_t *site, ngx_api_led_compose_part_conf_t *pc)
{
    u_char                          *p, allowed[128];
    ngx_int_t                        rc;
    ngx_str_t                        path, none;
    ngx_uint_t                       caller, callers, i;
    ngx_api_led_loc_conf_t          *llcf;
    ngx_http_core_loc_conf_t        *clcf;

    if (pc->event) {
        /* it calls no API */
        return NGX_OK;
    }

    rc = ngx_api_led_compose_literal_path(cf->temp_pool, &pc->uri, &path);

    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
    }

    clcf = site->server->ctx->loc_conf[ngx_http_core_module.ctx_index];

    if (ngx_api_led_compose_find_location(clcf, &path, &clcf) == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (clcf == NULL) {
        return NGX_OK;
    }

    callers = ngx_api_led_layer_callers(clcf->loc_conf);
    llcf = clcf->loc_conf[ngx_api_led_module.ctx_index];

    caller = site->api->layer;

    if (callers == 0 || (callers & (1U << caller))) {
        return NGX_OK;
    }

    p = allowed;

    for (i = 1; i <= NGX_API_LED_CALLER_CLIENT; i++) {
        if (callers & (1U << i)) {
            p = ngx_slprintf(p, allowed + sizeof(allowed), "%s%V",
                             p == allowed ? "" : " ",
                             &ngx_api_led_caller_names[i]);
        }
    }

    ngx_str_set(&none, "-");

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "part \"%V\" of api \"%V\" (layer %V) calls \"%V\", api "
                  "\"%V\", whose allowed callers are: %*s in %V:%ui",
                  &pc->name, site->api->api.len ? &site->api->api : &none,
                  &ngx_api_led_caller_names[caller], &path,
                  llcf->api.len ? &llcf->api : &none, p - allowed, allowed,
                  &site->comp->file, pc->line);

    return NGX_ERROR;
}


/*
 * The path of a URI template up to "?", when it holds no variable and no
 * placeholder: NGX_OK; NGX_DECLINED when it is not literal.
 */

static ngx_int_t
ngx_api_led_compose_literal_path(ngx_pool_t *pool, ngx_array_t *segs,
    ngx_str_t *path)
{
    u_char                     *p, *q;
    size_t                      len;
    ngx_uint_t                  i, n;
    ngx_api_led_compose_seg_t  *seg;

    seg = segs->elts;
    len = 0;

    for (n = 0; n < segs->nelts; n++) {
        if (seg[n].type != NGX_API_LED_SEG_TEXT) {
            return NGX_DECLINED;
        }

        q = ngx_strlchr(seg[n].text.data, seg[n].text.data + seg[n].text.len,
                        '?');
        if (q) {
            len += q - seg[n].text.data;
            n++;
            break;
        }

        len += seg[n].text.len;
    }

    path->data = ngx_pnalloc(pool, len);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    p = path->data;

    for (i = 0; i < n; i++) {
        q = ngx_strlchr(seg[i].text.data, seg[i].text.data + seg[i].text.len,
                        '?');
        if (q == NULL) {
            q = seg[i].text.data + seg[i].text.len;
        }

        p = ngx_cpymem(p, seg[i].text.data, q - seg[i].text.data);
    }

    path->len = p - path->data;

    return NGX_OK;
}


/*
 * The location of "uri" among the locations inside "pclcf", as nginx
 * finds it for a request.  *loc is the location found, NULL if none;
 * NGX_OK: an exact or regex match, NGX_AGAIN: a prefix, NGX_DECLINED:
 * none, NGX_ERROR.
 */

static ngx_int_t
ngx_api_led_compose_find_location(ngx_http_core_loc_conf_t *pclcf,
    ngx_str_t *uri, ngx_http_core_loc_conf_t **loc)
{
    ngx_int_t                   rc;
    ngx_uint_t                  noregex;
    ngx_http_core_loc_conf_t   *nested;
#if (NGX_PCRE)
    ngx_int_t                   n;
    ngx_http_core_loc_conf_t  **clcfp;
#endif

    *loc = NULL;
    noregex = 0;

    rc = ngx_api_led_compose_find_static(pclcf->static_locations, uri, loc);

    if (rc == NGX_AGAIN) {
        /* a prefix: its nested locations may hold a better match */
        noregex = (*loc)->noregex;

        rc = ngx_api_led_compose_find_location(*loc, uri, &nested);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        if (nested) {
            *loc = nested;
        }
    }

    if (rc == NGX_OK) {
        return NGX_OK;
    }

#if (NGX_PCRE)

    if (noregex || pclcf->regex_locations == NULL) {
        return rc;
    }

    for (clcfp = pclcf->regex_locations; *clcfp; clcfp++) {
        n = ngx_regex_exec((*clcfp)->regex->regex, uri, NULL, 0);

        if (n == NGX_REGEX_NO_MATCHED) {
            continue;
        }

        if (n < 0) {
            return NGX_ERROR;
        }

        *loc = *clcfp;

        if (ngx_api_led_compose_find_location(*clcfp, uri, &nested)
            == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (nested) {
            *loc = nested;
        }

        return NGX_OK;
    }

#endif

    return rc;
}


/*
 * The static location tree: NGX_OK an exact match, NGX_AGAIN the longest
 * prefix, NGX_DECLINED none.
 */

static ngx_int_t
ngx_api_led_compose_find_static(ngx_http_location_tree_node_t *node,
    ngx_str_t *uri, ngx_http_core_loc_conf_t **loc)
{
    u_char     *p;
    size_t      len, n;
    ngx_int_t   rc, found;

    p = uri->data;
    len = uri->len;
    found = NGX_DECLINED;

    while (node) {
        n = ngx_min(len, (size_t) node->len);

        rc = ngx_filename_cmp(p, node->name, n);

        if (rc != 0) {
            node = (rc < 0) ? node->left : node->right;
            continue;
        }

        if (len > (size_t) node->len) {
            if (node->inclusive == NULL) {
                node = node->right;
                continue;
            }

            *loc = node->inclusive;
            found = NGX_AGAIN;

            p += n;
            len -= n;
            node = node->tree;
            continue;
        }

        if (len == (size_t) node->len) {
            if (node->exact) {
                *loc = node->exact;
                return NGX_OK;
            }

            *loc = node->inclusive;
            return NGX_AGAIN;
        }

        node = node->left;
    }

    return found;
}
