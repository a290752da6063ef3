
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The catalog as one self-contained HTML page: inline CSS and SVG, no
 * external asset, no script.  The three layers are bands, each API a box
 * in its band, each call between APIs (a composition part) an arrow; a
 * card per API below lists everything the catalog knows of it.  Made once
 * from the catalog's JSON, at configuration time.
 */


#include "ngx_api_led_observe_module.h"


#define NGX_API_LED_HTML_BAND_LABEL   150
#define NGX_API_LED_HTML_BAND_HEIGHT  160
#define NGX_API_LED_HTML_BOX_WIDTH    210
#define NGX_API_LED_HTML_BOX_HEIGHT   88
#define NGX_API_LED_HTML_GAP          34
#define NGX_API_LED_HTML_BANDS        4       /* 3 layers and "no layer" */
#define NGX_API_LED_HTML_NAME_MAX     26      /* characters in a box */


typedef struct {
    ngx_pool_t                  *pool;
    u_char                      *start;
    u_char                      *p;
    u_char                      *end;
    ngx_uint_t                   failed;
} ngx_api_led_html_t;


/* an API in the drawing: the first entry of its id */
typedef struct {
    ngx_str_node_t               sn;          /* by id, in "ids" */
    json_t                      *api;
    const char                  *id;
    ngx_uint_t                   locations;
    ngx_uint_t                   band;
    ngx_uint_t                   x;
    ngx_uint_t                   y;
    size_t                       first;       /* its entries: the first, */
    size_t                       last;        /* the last, and "next" links
                                                 them in the order of the
                                                 configuration */
} ngx_api_led_html_node_t;


typedef struct {
    ngx_rbtree_t                 ids;
    ngx_rbtree_node_t            sentinel;
    size_t                      *next;        /* an entry's next of its id */
} ngx_api_led_html_map_t;


static void ngx_api_led_html_out(ngx_api_led_html_t *h, const char *fmt,
    ...);
static void ngx_api_led_html_text(ngx_api_led_html_t *h, const char *s,
    size_t len);
static void ngx_api_led_html_json_text(ngx_api_led_html_t *h, json_t *v);
static ngx_int_t ngx_api_led_html_grow(ngx_api_led_html_t *h, size_t need);
static ngx_uint_t ngx_api_led_html_band(json_t *api);
static ngx_api_led_html_node_t *ngx_api_led_html_node(
    ngx_api_led_html_map_t *map, const char *id);
static void ngx_api_led_html_svg(ngx_api_led_html_t *h,
    ngx_api_led_html_map_t *map, ngx_api_led_html_node_t *nodes,
    ngx_uint_t n, json_t *apis);
static void ngx_api_led_html_box(ngx_api_led_html_t *h,
    ngx_api_led_html_node_t *node);
static void ngx_api_led_html_edge(ngx_api_led_html_t *h,
    ngx_api_led_html_node_t *from, ngx_api_led_html_node_t *to);
static void ngx_api_led_html_card(ngx_api_led_html_t *h, json_t *api);
static void ngx_api_led_html_value(ngx_api_led_html_t *h, json_t *v,
    ngx_uint_t depth);
static void ngx_api_led_html_plans(ngx_api_led_html_t *h, json_t *plans);
static void ngx_api_led_html_streams(ngx_api_led_html_t *h, json_t *streams);
static void ngx_api_led_html_party(ngx_api_led_html_t *h, json_t *who);


static const char  *ngx_api_led_html_band_names[] = {
    "Experience", "Process", "System", "No layer"
};

static const char  *ngx_api_led_html_band_classes[] = {
    "experience", "process", "system", "none"
};


static const char  ngx_api_led_html_head[] =
"<!DOCTYPE html>\n"
"<html lang=\"en\">\n"
"<head>\n"
"<meta charset=\"utf-8\">\n"
"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
"<title>API catalog</title>\n"
"<style>\n"
"body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",sans-serif;"
"margin:0;color:#1d2733;background:#f5f7fa}\n"
"header{background:#1d2733;color:#fff;padding:14px 24px}\n"
"header h1{margin:0;font-size:20px}\n"
"header p{margin:4px 0 0;color:#b8c4d0}\n"
"main{padding:16px 24px}\n"
".map{background:#fff;border:1px solid #d5dde6;border-radius:6px;"
"overflow-x:auto;margin-bottom:20px}\n"
"svg text{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif}\n"
".band-experience{fill:#eaf3fc}.band-process{fill:#eefaf1}"
".band-system{fill:#fdf4e7}.band-none{fill:#f1f1f4}\n"
".band-label{font-size:15px;font-weight:600;fill:#44505c}\n"
".api rect{fill:#fff;stroke:#6b7a89;stroke-width:1.2}\n"
".api.deprecated rect{stroke:#c0392b;stroke-dasharray:5 3}\n"
".api .name{font-size:14px;font-weight:600;fill:#1d2733}\n"
".api .meta{font-size:12px;fill:#5b6874}\n"
".api .policy{font-size:11.5px;fill:#1f5f99}\n"
".call{fill:none;stroke:#3d6f9e;stroke-width:1.6}\n"
".cards{display:grid;grid-template-columns:repeat(auto-fill,"
"minmax(420px,1fr));gap:14px}\n"
".card{background:#fff;border:1px solid #d5dde6;border-radius:6px;"
"padding:10px 14px}\n"
".card h3{margin:0 0 4px;font-size:16px}\n"
".card .layer{display:inline-block;font-size:12px;padding:1px 8px;"
"border-radius:10px;background:#e3e8ee;margin-left:6px;font-weight:400}\n"
".layer.experience{background:#cfe3f7}.layer.process{background:#d3f0db}"
".layer.system{background:#f9e2bf}\n"
".warn{color:#b03a2e;font-weight:600}\n"
"dl{margin:4px 0;display:grid;grid-template-columns:max-content 1fr;"
"gap:2px 12px}\n"
"dt{color:#5b6874}dd{margin:0;word-break:break-word}\n"
"dl dl{margin:0}\n"
"code{font:12.5px ui-monospace,Menlo,Consolas,monospace;"
"background:#f0f3f6;padding:0 3px;border-radius:3px}\n"
"ul{margin:0;padding-left:18px}\n"
"table{border-collapse:collapse;background:#fff}\n"
"td,th{border:1px solid #d5dde6;padding:4px 10px;text-align:left}\n"
"</style>\n"
"</head>\n"
"<body>\n";


ngx_int_t
ngx_api_led_catalog_html(ngx_conf_t *cf, json_t *root, ngx_str_t *out)
{
    size_t                    i, j, n;
    json_t                   *apis, *api, *id;
    ngx_uint_t                bands[NGX_API_LED_HTML_BANDS], b;
    ngx_api_led_html_t        h;
    ngx_api_led_html_map_t    map;
    ngx_api_led_html_node_t  *nodes, *node;

    h.pool = cf->pool;
    h.start = NULL;
    h.p = NULL;
    h.end = NULL;
    h.failed = 0;

    if (ngx_api_led_html_grow(&h, 16384) != NGX_OK) {
        return NGX_ERROR;
    }

    apis = json_object_get(root, "apis");
    n = json_array_size(apis);

    nodes = ngx_pcalloc(cf->pool, (n + 1) * sizeof(ngx_api_led_html_node_t));
    map.next = ngx_palloc(cf->pool, (n + 1) * sizeof(size_t));

    if (nodes == NULL || map.next == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&map.ids, &map.sentinel, ngx_str_rbtree_insert_value);

    /* one node per API id, in the order of the configuration */

    ngx_memzero(bands, sizeof(bands));
    j = 0;

    json_array_foreach(apis, i, api) {
        id = json_object_get(api, "id");

        if (!json_is_string(id)) {
            continue;
        }

        map.next[i] = (size_t) -1;

        node = ngx_api_led_html_node(&map, json_string_value(id));

        if (node) {
            node->locations++;
            map.next[node->last] = i;
            node->last = i;
            continue;
        }

        node = &nodes[j++];
        node->api = api;
        node->id = json_string_value(id);
        node->locations = 1;
        node->band = ngx_api_led_html_band(api);
        node->first = i;
        node->last = i;

        node->sn.str.data = (u_char *) node->id;
        node->sn.str.len = json_string_length(id);
        node->sn.node.key = ngx_crc32_short(node->sn.str.data,
                                            node->sn.str.len);
        ngx_rbtree_insert(&map.ids, &node->sn.node);

        b = node->band;
        node->x = NGX_API_LED_HTML_BAND_LABEL
                  + bands[b] * (NGX_API_LED_HTML_BOX_WIDTH
                                + NGX_API_LED_HTML_GAP);
        bands[b]++;
    }

    ngx_api_led_html_out(&h, "%s", ngx_api_led_html_head);
    ngx_api_led_html_out(&h, "<header><h1>API catalog</h1><p>%uz APIs in "
                         "%uz locations; arrows are calls between APIs"
                         "</p></header>\n<main>\n", j, n);

    ngx_api_led_html_svg(&h, &map, nodes, j, apis);

    ngx_api_led_html_out(&h, "<h2>APIs</h2>\n<div class=\"cards\">\n");

    json_array_foreach(apis, i, api) {
        ngx_api_led_html_card(&h, api);
    }

    ngx_api_led_html_out(&h, "</div>\n");

    ngx_api_led_html_streams(&h, json_object_get(root, "streams"));

    ngx_api_led_html_plans(&h, json_object_get(root, "plans"));

    ngx_api_led_html_out(&h, "</main>\n</body>\n</html>\n");

    if (h.failed) {
        return NGX_ERROR;
    }

    out->data = h.start;
    out->len = h.p - h.start;

    return NGX_OK;
}


/* bands from the top: experience, process, system, then no layer */

static ngx_uint_t
ngx_api_led_html_band(json_t *api)
{
    ngx_uint_t   i;
    const char  *layer;

    layer = json_string_value(json_object_get(api, "layer"));

    if (layer == NULL) {
        return 3;
    }

    for (i = 0; i < 3; i++) {
        if (ngx_strcmp(layer, ngx_api_led_html_band_classes[i]) == 0) {
            return i;
        }
    }

    return 3;
}


static ngx_api_led_html_node_t *
ngx_api_led_html_node(ngx_api_led_html_map_t *map, const char *id)
{
    ngx_str_t   s;

    if (id == NULL) {
        return NULL;
    }

    s.data = (u_char *) id;
    s.len = ngx_strlen(id);

    /* sn is the node's first member */

    return (ngx_api_led_html_node_t *)
               ngx_str_rbtree_lookup(&map->ids, &s,
                                     ngx_crc32_short(s.data, s.len));
}


static void
ngx_api_led_html_svg(ngx_api_led_html_t *h, ngx_api_led_html_map_t *map,
    ngx_api_led_html_node_t *nodes, ngx_uint_t n, json_t *apis)
{
    size_t                    i, k;
    json_t                   *api, *calls, *to;
    ngx_uint_t                b, j, used[NGX_API_LED_HTML_BANDS], row[4],
                              rows, width, height, count;
    ngx_api_led_html_node_t  *from, *target;

    ngx_memzero(used, sizeof(used));
    count = 0;

    for (j = 0; j < n; j++) {
        used[nodes[j].band]++;
        count = ngx_max(count, used[nodes[j].band]);
    }

    /* the three layers always, "no layer" when some API has none */

    rows = used[3] ? 4 : 3;

    for (b = 0; b < rows; b++) {
        row[b] = 20 + b * NGX_API_LED_HTML_BAND_HEIGHT;
    }

    for (j = 0; j < n; j++) {
        nodes[j].y = row[nodes[j].band]
                     + (NGX_API_LED_HTML_BAND_HEIGHT
                        - NGX_API_LED_HTML_BOX_HEIGHT) / 2;
    }

    width = NGX_API_LED_HTML_BAND_LABEL
            + ngx_max(count, 3) * (NGX_API_LED_HTML_BOX_WIDTH
                                   + NGX_API_LED_HTML_GAP) + 20;
    height = 40 + rows * NGX_API_LED_HTML_BAND_HEIGHT;

    ngx_api_led_html_out(h, "<div class=\"map\">\n<svg xmlns=\"http://www.w3."
                         "org/2000/svg\" width=\"%ui\" height=\"%ui\" "
                         "viewBox=\"0 0 %ui %ui\" role=\"img\" "
                         "aria-label=\"APIs by layer and the calls between "
                         "them\">\n", width, height, width, height);

    ngx_api_led_html_out(h, "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\""
                         " refX=\"9\" refY=\"5\" markerWidth=\"8\" "
                         "markerHeight=\"8\" orient=\"auto-start-reverse\">"
                         "<path d=\"M0 0L10 5L0 10z\" fill=\"#3d6f9e\"/>"
                         "</marker></defs>\n");

    for (b = 0; b < rows; b++) {
        ngx_api_led_html_out(h, "<g class=\"band\" data-layer=\"%s\">"
                             "<rect class=\"band-%s\" x=\"0\" y=\"%ui\" "
                             "width=\"%ui\" height=\"%ui\"/>"
                             "<text class=\"band-label\" x=\"16\" y=\"%ui\">"
                             "%s</text></g>\n",
                             ngx_api_led_html_band_classes[b],
                             ngx_api_led_html_band_classes[b], row[b], width,
                             NGX_API_LED_HTML_BAND_HEIGHT - 4,
                             row[b] + NGX_API_LED_HTML_BAND_HEIGHT / 2 + 5,
                             ngx_api_led_html_band_names[b]);
    }

    /* arrows under the boxes */

    for (j = 0; j < n; j++) {
        from = &nodes[j];

        /* every location of the API: its calls */

        for (i = from->first; i != (size_t) -1; i = map->next[i]) {
            api = json_array_get(apis, i);
            calls = json_object_get(api, "calls");

            json_array_foreach(calls, k, to) {
                target = ngx_api_led_html_node(map, json_string_value(to));
                if (target) {
                    ngx_api_led_html_edge(h, from, target);
                }
            }
        }
    }

    for (j = 0; j < n; j++) {
        ngx_api_led_html_box(h, &nodes[j]);
    }

    ngx_api_led_html_out(h, "</svg>\n</div>\n");
}


static void
ngx_api_led_html_edge(ngx_api_led_html_t *h, ngx_api_led_html_node_t *from,
    ngx_api_led_html_node_t *to)
{
    ngx_int_t  x1, y1, x2, y2, c1, c2;

    x1 = from->x + NGX_API_LED_HTML_BOX_WIDTH / 2;
    x2 = to->x + NGX_API_LED_HTML_BOX_WIDTH / 2;

    if (to->band > from->band) {
        /* down a layer: bottom to top */
        y1 = from->y + NGX_API_LED_HTML_BOX_HEIGHT;
        y2 = to->y;
        c1 = y1 + (y2 - y1) / 2;
        c2 = c1;

    } else if (to->band < from->band) {
        y1 = from->y;
        y2 = to->y + NGX_API_LED_HTML_BOX_HEIGHT;
        c1 = y1 - (y1 - y2) / 2;
        c2 = c1;

    } else {
        /* within a band: under the boxes */
        y1 = from->y + NGX_API_LED_HTML_BOX_HEIGHT;
        y2 = to->y + NGX_API_LED_HTML_BOX_HEIGHT;
        c1 = y1 + 40;
        c2 = c1;
    }

    ngx_api_led_html_out(h, "<path class=\"call\" data-from=\"");
    ngx_api_led_html_text(h, from->id, ngx_strlen(from->id));
    ngx_api_led_html_out(h, "\" data-to=\"");
    ngx_api_led_html_text(h, to->id, ngx_strlen(to->id));
    ngx_api_led_html_out(h, "\" d=\"M%i %i C%i %i %i %i %i %i\" "
                         "marker-end=\"url(#arrow)\"><title>",
                         x1, y1, x1, c1, x2, c2, x2, y2);
    ngx_api_led_html_text(h, from->id, ngx_strlen(from->id));
    ngx_api_led_html_out(h, " calls ");
    ngx_api_led_html_text(h, to->id, ngx_strlen(to->id));
    ngx_api_led_html_out(h, "</title></path>\n");
}


/* a box: name, version and layer, the policies in one line */

static void
ngx_api_led_html_box(ngx_api_led_html_t *h, ngx_api_led_html_node_t *node)
{
    size_t       len;
    json_t      *api, *v, *auth, *methods;
    ngx_uint_t   deprecated;
    const char  *name;
    u_char       policies[256], *p, *last;

    api = node->api;
    name = json_string_value(json_object_get(api, "name"));
    deprecated = json_object_get(api, "deprecated") != NULL
                 || json_object_get(api, "sunset") != NULL;

    ngx_api_led_html_out(h, "<g class=\"api%s\" data-api=\"",
                         deprecated ? " deprecated" : "");
    ngx_api_led_html_text(h, node->id, ngx_strlen(node->id));
    ngx_api_led_html_out(h, "\" data-layer=\"%s\"><title>",
                         ngx_api_led_html_band_classes[node->band]);
    ngx_api_led_html_text(h, node->id, ngx_strlen(node->id));
    ngx_api_led_html_out(h, "</title><a href=\"#api-");
    ngx_api_led_html_text(h, node->id, ngx_strlen(node->id));
    ngx_api_led_html_out(h, "\"><rect x=\"%ui\" y=\"%ui\" width=\"%d\" "
                         "height=\"%d\" rx=\"6\"/>", node->x, node->y,
                         NGX_API_LED_HTML_BOX_WIDTH,
                         NGX_API_LED_HTML_BOX_HEIGHT);

    /* a long name is cut in the box; the card has it whole */

    len = ngx_strlen(name);

    ngx_api_led_html_out(h, "<text class=\"name\" x=\"%ui\" y=\"%ui\">",
                         node->x + 10, node->y + 22);
    ngx_api_led_html_text(h, name, ngx_min(len, NGX_API_LED_HTML_NAME_MAX));
    ngx_api_led_html_out(h, "%s</text>",
                         len > NGX_API_LED_HTML_NAME_MAX ? "&#8230;" : "");

    ngx_api_led_html_out(h, "<text class=\"meta\" x=\"%ui\" y=\"%ui\">",
                         node->x + 10, node->y + 42);

    v = json_object_get(api, "version");

    if (json_is_string(v)) {
        ngx_api_led_html_json_text(h, v);
        ngx_api_led_html_out(h, " &#183; ");
    }

    ngx_api_led_html_out(h, "%s", ngx_api_led_html_band_classes[node->band]);

    if (node->locations > 1) {
        /* the box shows the first; the cards show each */
        ngx_api_led_html_out(h, " &#183; %ui locations", node->locations);
    }

    ngx_api_led_html_out(h, "%s</text>",
                         deprecated ? " &#183; deprecated" : "");

    /* what applies to a request: authentication, limits, callers */

    p = policies;
    last = policies + sizeof(policies);

    auth = json_object_get(api, "auth");
    methods = json_object_get(auth, "methods");

    if (json_array_size(methods)) {
        p = ngx_slprintf(p, last, "auth:");

        json_array_foreach(methods, len, v) {
            p = ngx_slprintf(p, last, " %s", json_string_value(v));
        }

        p = ngx_slprintf(p, last, "  ");
    }

    if (json_array_size(json_object_get(api, "limits"))) {
        p = ngx_slprintf(p, last, "limits: %uz  ",
                         json_array_size(json_object_get(api, "limits")));
    }

    if (json_array_size(json_object_get(api, "parts"))) {
        p = ngx_slprintf(p, last, "parts: %uz",
                         json_array_size(json_object_get(api, "parts")));
    }

    ngx_api_led_html_out(h, "<text class=\"policy\" x=\"%ui\" y=\"%ui\">",
                         node->x + 10, node->y + 62);
    ngx_api_led_html_text(h, (char *) policies, p - policies);
    ngx_api_led_html_out(h, "</text>");

    v = json_object_get(api, "callers");

    if (json_array_size(v)) {
        p = ngx_slprintf(policies, last, "callers:");

        json_array_foreach(v, len, auth) {
            p = ngx_slprintf(p, last, " %s", json_string_value(auth));
        }

        ngx_api_led_html_out(h, "<text class=\"policy\" x=\"%ui\" y=\"%ui\">",
                             node->x + 10, node->y + 79);
        ngx_api_led_html_text(h, (char *) policies, p - policies);
        ngx_api_led_html_out(h, "</text>");
    }

    ngx_api_led_html_out(h, "</a></g>\n");
}


/* a card per API location: every member of its entry */

static void
ngx_api_led_html_card(ngx_api_led_html_t *h, json_t *api)
{
    json_t      *v, *layer;
    const char  *key;

    layer = json_object_get(api, "layer");

    ngx_api_led_html_out(h, "<section class=\"card\" id=\"api-");
    ngx_api_led_html_json_text(h, json_object_get(api, "id"));
    ngx_api_led_html_out(h, "\"><h3>");
    ngx_api_led_html_json_text(h, json_object_get(api, "name"));
    ngx_api_led_html_out(h, "<span class=\"layer %s\">",
                         json_is_string(layer) ? json_string_value(layer)
                                               : "none");
    ngx_api_led_html_out(h, "%s</span></h3>\n",
                         json_is_string(layer) ? json_string_value(layer)
                                               : "no layer");

    if (json_object_get(api, "sunset")) {
        ngx_api_led_html_out(h, "<p class=\"warn\">Sunset ");
        ngx_api_led_html_json_text(h, json_object_get(api, "sunset"));
        ngx_api_led_html_out(h, "</p>\n");

    } else if (json_object_get(api, "deprecated")) {
        ngx_api_led_html_out(h, "<p class=\"warn\">Deprecated</p>\n");
    }

    ngx_api_led_html_out(h, "<dl>\n");

    json_object_foreach(api, key, v) {
        if (ngx_strcmp(key, "id") == 0 || ngx_strcmp(key, "name") == 0
            || ngx_strcmp(key, "layer") == 0 || json_is_null(v))
        {
            continue;
        }

        ngx_api_led_html_out(h, "<dt>");
        ngx_api_led_html_text(h, key, ngx_strlen(key));
        ngx_api_led_html_out(h, "</dt><dd>");

        if (ngx_strcmp(key, "spec") == 0 && json_is_string(v)) {
            ngx_api_led_html_out(h, "<a href=\"");
            ngx_api_led_html_json_text(h, v);
            ngx_api_led_html_out(h, "\">OpenAPI document</a>");

        } else {
            ngx_api_led_html_value(h, v, 0);
        }

        ngx_api_led_html_out(h, "</dd>\n");
    }

    ngx_api_led_html_out(h, "</dl>\n</section>\n");
}


static void
ngx_api_led_html_value(ngx_api_led_html_t *h, json_t *v, ngx_uint_t depth)
{
    size_t       i;
    json_t      *e;
    ngx_uint_t   scalars;
    const char  *key;

    if (v == NULL) {
        ngx_api_led_html_out(h, "&#8212;");
        return;
    }

    if (depth > 8) {
        ngx_api_led_html_out(h, "&#8230;");
        return;
    }

    switch (json_typeof(v)) {

    case JSON_OBJECT:
        ngx_api_led_html_out(h, "<dl>");

        json_object_foreach(v, key, e) {
            ngx_api_led_html_out(h, "<dt>");
            ngx_api_led_html_text(h, key, ngx_strlen(key));
            ngx_api_led_html_out(h, "</dt><dd>");
            ngx_api_led_html_value(h, e, depth + 1);
            ngx_api_led_html_out(h, "</dd>");
        }

        ngx_api_led_html_out(h, "</dl>");
        return;

    case JSON_ARRAY:
        scalars = 1;

        json_array_foreach(v, i, e) {
            if (json_is_object(e) || json_is_array(e)) {
                scalars = 0;
            }
        }

        if (scalars) {
            json_array_foreach(v, i, e) {
                ngx_api_led_html_out(h, "%s<code>", i ? " " : "");
                ngx_api_led_html_value(h, e, depth + 1);
                ngx_api_led_html_out(h, "</code>");
            }

            return;
        }

        ngx_api_led_html_out(h, "<ul>");

        json_array_foreach(v, i, e) {
            ngx_api_led_html_out(h, "<li>");
            ngx_api_led_html_value(h, e, depth + 1);
            ngx_api_led_html_out(h, "</li>");
        }

        ngx_api_led_html_out(h, "</ul>");
        return;

    case JSON_STRING:
        ngx_api_led_html_json_text(h, v);
        return;

    case JSON_INTEGER:
        ngx_api_led_html_out(h, "%L", (int64_t) json_integer_value(v));
        return;

    case JSON_REAL:
        ngx_api_led_html_out(h, "%.3f", json_real_value(v));
        return;

    case JSON_TRUE:
        ngx_api_led_html_out(h, "yes");
        return;

    case JSON_FALSE:
        ngx_api_led_html_out(h, "no");
        return;

    default:
        ngx_api_led_html_out(h, "&#8212;");
    }
}


static void
ngx_api_led_html_plans(ngx_api_led_html_t *h, json_t *plans)
{
    json_t      *plan;
    const char  *name;

    if (json_object_size(plans) == 0) {
        return;
    }

    ngx_api_led_html_out(h, "<h2>Plans</h2>\n<table><tr><th>plan</th>"
                         "<th>limits</th></tr>\n");

    json_object_foreach(plans, name, plan) {
        ngx_api_led_html_out(h, "<tr><td>");
        ngx_api_led_html_text(h, name, ngx_strlen(name));
        ngx_api_led_html_out(h, "</td><td>");
        ngx_api_led_html_value(h, json_object_get(plan, "limits"), 0);
        ngx_api_led_html_out(h, "</td></tr>\n");
    }

    ngx_api_led_html_out(h, "</table>\n");
}


/* a row per stream: the APIs that publish into it, those that consume it */

static void
ngx_api_led_html_streams(ngx_api_led_html_t *h, json_t *streams)
{
    size_t   i, j, k;
    json_t  *stream, *list, *who;

    if (json_array_size(streams) == 0) {
        return;
    }

    ngx_api_led_html_out(h, "<h2>Events</h2>\n<table><tr><th>stream</th>"
                         "<th>published by</th><th>consumed by</th></tr>\n");

    json_array_foreach(streams, i, stream) {
        ngx_api_led_html_out(h, "<tr><td><code>");
        ngx_api_led_html_json_text(h, json_object_get(stream, "stream"));
        ngx_api_led_html_out(h, "</code></td>");

        for (k = 0; k < 2; k++) {
            list = json_object_get(stream, k ? "consumers" : "publishers");

            ngx_api_led_html_out(h, "<td>");

            json_array_foreach(list, j, who) {
                ngx_api_led_html_out(h, "%s", j ? "<br>" : "");
                ngx_api_led_html_party(h, who);
            }

            ngx_api_led_html_out(h, "</td>");
        }

        ngx_api_led_html_out(h, "</tr>\n");
    }

    ngx_api_led_html_out(h, "</table>\n");
}


/* "API type (part P)", "API (sse, types T...)", "API (delivery, group G)" */

static void
ngx_api_led_html_party(ngx_api_led_html_t *h, json_t *who)
{
    json_t      *api, *v;
    const char  *via;

    api = json_object_get(who, "api");

    if (json_is_string(api)) {
        ngx_api_led_html_out(h, "<a href=\"#api-");
        ngx_api_led_html_json_text(h, api);
        ngx_api_led_html_out(h, "\">");
        ngx_api_led_html_json_text(h, api);
        ngx_api_led_html_out(h, "</a>");

    } else {
        ngx_api_led_html_out(h, "<code>");
        ngx_api_led_html_json_text(h, json_object_get(who, "uri"));
        ngx_api_led_html_out(h, "</code>");
    }

    v = json_object_get(who, "type");

    if (json_is_string(v)) {
        ngx_api_led_html_out(h, " <code>");
        ngx_api_led_html_json_text(h, v);
        ngx_api_led_html_out(h, "</code>");

        v = json_object_get(who, "part");

        if (json_is_string(v)) {
            ngx_api_led_html_out(h, " (part <code>");
            ngx_api_led_html_json_text(h, v);
            ngx_api_led_html_out(h, "</code>)");
        }

        return;
    }

    via = json_string_value(json_object_get(who, "via"));

    if (via == NULL) {
        return;
    }

    ngx_api_led_html_out(h, " (");
    ngx_api_led_html_text(h, via, ngx_strlen(via));

    v = json_object_get(who, "group");

    if (json_is_string(v)) {
        ngx_api_led_html_out(h, ", group <code>");
        ngx_api_led_html_json_text(h, v);
        ngx_api_led_html_out(h, "</code>");
    }

    v = json_object_get(who, "types");

    if (json_array_size(v)) {
        ngx_api_led_html_out(h, ", types ");
        ngx_api_led_html_value(h, v, 0);
    }

    ngx_api_led_html_out(h, ")");
}


static void
ngx_api_led_html_json_text(ngx_api_led_html_t *h, json_t *v)
{
    if (!json_is_string(v)) {
        return;
    }

    ngx_api_led_html_text(h, json_string_value(v), json_string_length(v));
}


/* text and attribute values: & < > " ' escaped, controls dropped */

static void
ngx_api_led_html_text(ngx_api_led_html_t *h, const char *s, size_t len)
{
    u_char  c;
    size_t  i;

    if (ngx_api_led_html_grow(h, len * 6) != NGX_OK) {
        return;
    }

    for (i = 0; i < len; i++) {
        c = (u_char) s[i];

        switch (c) {
        case '&':
            h->p = ngx_cpymem(h->p, "&amp;", 5);
            break;
        case '<':
            h->p = ngx_cpymem(h->p, "&lt;", 4);
            break;
        case '>':
            h->p = ngx_cpymem(h->p, "&gt;", 4);
            break;
        case '"':
            h->p = ngx_cpymem(h->p, "&quot;", 6);
            break;
        case '\'':
            h->p = ngx_cpymem(h->p, "&#39;", 5);
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                break;
            }

            *h->p++ = c;
        }
    }
}


static void
ngx_api_led_html_out(ngx_api_led_html_t *h, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    for ( ;; ) {
        if (h->failed) {
            return;
        }

        va_start(args, fmt);
        p = ngx_vslprintf(h->p, h->end, fmt, args);
        va_end(args);

        if (p < h->end) {
            h->p = p;
            return;
        }

        /* it may not have fitted: again with room to spare */

        if (ngx_api_led_html_grow(h, (h->end - h->start) + 1) != NGX_OK) {
            return;
        }
    }
}


static ngx_int_t
ngx_api_led_html_grow(ngx_api_led_html_t *h, size_t need)
{
    size_t   size, used;
    u_char  *p;

    if (h->failed) {
        return NGX_ERROR;
    }

    if (h->start && (size_t) (h->end - h->p) > need) {
        return NGX_OK;
    }

    used = h->p - h->start;
    size = ngx_max(2 * (size_t) (h->end - h->start), used + need + 4096);

    p = ngx_pnalloc(h->pool, size);
    if (p == NULL) {
        h->failed = 1;
        return NGX_ERROR;
    }

    if (used) {
        ngx_memcpy(p, h->start, used);
    }

    h->start = p;
    h->p = p + used;
    h->end = p + size;

    return NGX_OK;
}
