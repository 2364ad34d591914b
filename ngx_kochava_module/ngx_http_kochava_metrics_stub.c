#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_kochava_module.h"
static off_t stub_bytes;
void ngx_http_kochava_metrics_spooled(size_t bytes) { stub_bytes += bytes; }
void ngx_http_kochava_metrics_spool_dropped(void) { }
void ngx_http_kochava_metrics_spool_bytes_set(off_t bytes) { stub_bytes = bytes; }
off_t ngx_http_kochava_metrics_spool_bytes(void) { return stub_bytes; }
