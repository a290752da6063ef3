
/*
 * Copyright (C) ngx_api_led_module authors
 *
 * The observe service: what the policies tell it, for the metrics and the
 * catalog.  Policies include this header and call it; it never reads a
 * policy's configuration (arrows point one way: policies -> observe).
 */


#ifndef _NGX_API_LED_OBSERVE_H_INCLUDED_
#define _NGX_API_LED_OBSERVE_H_INCLUDED_


#include "ngx_api_led.h"


extern ngx_module_t  ngx_api_led_observe_module;


/*
 * The catalog.  A concern describes an API location from its
 * merge_loc_conf: ngx_api_led_catalog_entry() returns the JSON object of
 * the location being merged, or NULL when no location serves the catalog
 * or the location is no API (then the concern has nothing to do).  The
 * concern sets its own members on it (json_object_set_new()): what a
 * reader of the catalog needs, never a secret or a key.  The catalog is
 * rendered once the configuration is parsed and freed with it.
 */
json_t *ngx_api_led_catalog_entry(ngx_conf_t *cf);

/*
 * The location being merged calls the local URI "uri" (a subrequest:
 * variables replaced by a sample value such as "0").  Once every location
 * is known, the API that answers that URI in the same server is written to
 * "part" as "api", and the call is drawn as an arrow.
 */
ngx_int_t ngx_api_led_catalog_call(ngx_conf_t *cf, json_t *part,
    ngx_str_t *uri);

/*
 * Members of the catalog as a whole ("plans"), from a concern's
 * postconfiguration or merge: NULL when there is no catalog.
 */
json_t *ngx_api_led_catalog_root(ngx_conf_t *cf);


#endif /* _NGX_API_LED_OBSERVE_H_INCLUDED_ */
