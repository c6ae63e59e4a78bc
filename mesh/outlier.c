/* outlier: Envoy's consecutive-errors outlier detector as Istio configures it (see outlier.h).
 *
 * This file follows Envoy's source/common/upstream/outlier_detection_impl.cc closely, so a
 * learner can read the two side by side:
 *   - putHttpResponseCode: a 5xx bumps the 5xx count and, for 502/503/504, the gateway count
 *     (a 500 clears the gateway count); anything else clears both. A detector fires when its
 *     count becomes *equal* to its threshold, so a threshold of 0 never fires.
 *   - onConsecutiveErrorWorker: an already ejected host is left alone (its count is not even
 *     restarted); otherwise ejectHost is attempted and that detector's count restarts whether
 *     the cap let the host go or not.
 *   - ejectHost: the cap counts the host about to go; the multiplier (eject_time_backoff) grows
 *     while base x multiplier < max + base.
 *   - onIntervalTimer: un-eject when min(base x multiplier, max) has passed since the ejection
 *     (clearing every count), then decay the multiplier of hosts that are in.
 */
#include "mesh/outlier.h"

enum detector {
  DETECTOR_5XX,
  DETECTOR_GATEWAY,
  DETECTOR_LOCAL_ORIGIN,
};

void outlier_config_from_policy(const struct resource_outlier_detection *od, struct outlier_config *out) {
  *out = (struct outlier_config){
      .enabled = false,
      .consecutive_5xx = 5,
      .consecutive_gateway = 0,
      .consecutive_local_origin = 5,
      .split_local_origin = false,
      .interval_ms = 10000,
      .base_ejection_ms = 30000,
      .max_ejection_ms = 300000,
      .max_ejection_percent = 10,
      .always_eject_one_host = false,
  };
  if (!od || !od->present) return;
  out->enabled = true;
  /* Istio writes consecutive_5xx as given and enforces it only when > 0: 0 turns it off. */
  out->consecutive_5xx = od->consecutive_5xx_errors.set ? od->consecutive_5xx_errors.value : 5;
  /* Unset, Istio leaves Envoy's gateway detector at 5 with enforcing 0: it never ejects. */
  out->consecutive_gateway = od->consecutive_gateway_errors.set ? od->consecutive_gateway_errors.value : 0;
  out->split_local_origin = od->split_external_local_origin_errors.set && od->split_external_local_origin_errors.value;
  /* Istio copies consecutiveLocalOriginFailures only when > 0; otherwise Envoy's 5 stays. */
  if (od->consecutive_local_origin_failures.set && od->consecutive_local_origin_failures.value > 0)
    out->consecutive_local_origin = od->consecutive_local_origin_failures.value;
  if (od->interval.set && od->interval.ms > 0) out->interval_ms = od->interval.ms;
  if (od->base_ejection_time.set && od->base_ejection_time.ms > 0) out->base_ejection_ms = od->base_ejection_time.ms;
  /* Envoy: max_ejection_time unset means max(300 s, base_ejection_time). */
  out->max_ejection_ms = out->base_ejection_ms > 300000 ? out->base_ejection_ms : 300000;
  /* Istio copies maxEjectionPercent only when > 0 (it cannot tell 0 from unset); Envoy clamps
   * runtime values above 100. */
  if (od->max_ejection_percent.set && od->max_ejection_percent.value > 0)
    out->max_ejection_percent = od->max_ejection_percent.value > 100 ? 100 : od->max_ejection_percent.value;
}

static size_t count_ejected(const struct outlier_host *hosts, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += hosts[i].ejected;
  return k;
}

static int64_t ejection_ms(const struct outlier_config *cfg, uint32_t multiplier) {
  int64_t t = cfg->base_ejection_ms * (int64_t)multiplier;
  return t < cfg->max_ejection_ms ? t : cfg->max_ejection_ms;
}

/* Envoy's onConsecutiveErrorWorker + ejectHost for one detector that just reached its
 * threshold on host i. */
static enum outlier_verdict attempt(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, size_t i,
                                    enum detector d, int64_t now_ms, struct outlier_stats *stats) {
  struct outlier_host *h = &hosts[i];
  if (h->ejected) return OUTLIER_NONE; /* already out: the count is not restarted either */

  enum outlier_verdict v;
  size_t active = count_ejected(hosts, n);
  /* The cap counts the host about to go (Envoy >= 1.27): 3 hosts at 10 % eject nobody, at
   * 50 % one, at 67 % two, at 100 % all three. */
  bool allowed = 100.0 * (double)(active + 1) / (double)n <= (double)cfg->max_ejection_percent;
  if (cfg->always_eject_one_host && active == 0) allowed = true;
  if (allowed) {
    h->ejected = true;
    h->ejected_at_ms = now_ms;
    if ((int64_t)h->multiplier * cfg->base_ejection_ms < cfg->max_ejection_ms + cfg->base_ejection_ms) h->multiplier++;
    h->eject_until_ms = now_ms + ejection_ms(cfg, h->multiplier);
    h->ejections_total++;
    if (stats) {
      stats->ejections_active++;
      stats->ejections_total++;
      switch (d) {
      case DETECTOR_5XX:
        stats->ejections_consecutive_5xx++;
        break;
      case DETECTOR_GATEWAY:
        stats->ejections_consecutive_gateway++;
        break;
      case DETECTOR_LOCAL_ORIGIN:
        stats->ejections_consecutive_local_origin++;
        break;
      }
    }
    v = OUTLIER_EJECTED;
  } else {
    h->ejections_skipped++;
    if (stats) stats->ejections_overflow++;
    v = OUTLIER_CAP_REACHED;
  }
  /* Restart the count that fired so a fresh run of errors can fire it again, even without a
   * success in between (Envoy's comment in onConsecutiveErrorWorker). */
  switch (d) {
  case DETECTOR_5XX:
    h->consecutive_5xx = 0;
    break;
  case DETECTOR_GATEWAY:
    h->consecutive_gateway = 0;
    break;
  case DETECTOR_LOCAL_ORIGIN:
    h->consecutive_local_origin = 0;
    break;
  }
  return v;
}

/* The stronger of two verdicts from one report: an ejection beats a held-back threshold. */
static enum outlier_verdict stronger(enum outlier_verdict a, enum outlier_verdict b) {
  if (a == OUTLIER_EJECTED || b == OUTLIER_EJECTED) return OUTLIER_EJECTED;
  if (a == OUTLIER_CAP_REACHED || b == OUTLIER_CAP_REACHED) return OUTLIER_CAP_REACHED;
  return OUTLIER_NONE;
}

/* Envoy's putHttpResponseCode. */
static enum outlier_verdict put_status(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, size_t i,
                                       int status, int64_t now_ms, struct outlier_stats *stats) {
  struct outlier_host *h = &hosts[i];
  if (status < 500 || status > 599) {
    h->consecutive_5xx = 0;
    h->consecutive_gateway = 0;
    return OUTLIER_NONE;
  }
  /* Both detectors see the response; the gateway one is asked first, as Envoy posts its event
   * to the main thread first. */
  bool fire_gateway = false, fire_5xx;
  if (status == 502 || status == 503 || status == 504)
    fire_gateway = ++h->consecutive_gateway == cfg->consecutive_gateway;
  else h->consecutive_gateway = 0;
  fire_5xx = ++h->consecutive_5xx == cfg->consecutive_5xx;
  enum outlier_verdict v = OUTLIER_NONE;
  if (fire_gateway) v = attempt(cfg, hosts, n, i, DETECTOR_GATEWAY, now_ms, stats);
  if (fire_5xx) v = stronger(v, attempt(cfg, hosts, n, i, DETECTOR_5XX, now_ms, stats));
  return v;
}

enum outlier_verdict outlier_report(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, size_t i,
                                    enum outlier_result_kind kind, int status, int64_t now_ms,
                                    struct outlier_stats *stats) {
  if (!cfg->enabled || i >= n) return OUTLIER_NONE;
  struct outlier_host *h = &hosts[i];

  if (!cfg->split_local_origin) {
    /* Envoy's resultToHttpCode: the router reports a connect failure and an upstream reset as
     * LocalOriginConnectFailed (503) and a timeout with the route's timeout code (504). */
    switch (kind) {
    case OUTLIER_RESPONSE:
      return put_status(cfg, hosts, n, i, status, now_ms, stats);
    case OUTLIER_CONNECT_FAILURE:
      return put_status(cfg, hosts, n, i, 503, now_ms, stats);
    case OUTLIER_TIMEOUT:
      return put_status(cfg, hosts, n, i, 504, now_ms, stats);
    case OUTLIER_RESET:
      return put_status(cfg, hosts, n, i, 503, now_ms, stats);
    }
    return OUTLIER_NONE;
  }

  /* Split: local-origin failures have their own count and never touch the HTTP ones. */
  switch (kind) {
  case OUTLIER_RESPONSE:
    /* A response means the connection worked (the router reported LocalOriginConnectSuccess
     * when the pool handed it over), which clears the local-origin count. */
    h->consecutive_local_origin = 0;
    return put_status(cfg, hosts, n, i, status, now_ms, stats);
  case OUTLIER_CONNECT_FAILURE:
  case OUTLIER_TIMEOUT:
  case OUTLIER_RESET:
    if (++h->consecutive_local_origin == cfg->consecutive_local_origin)
      return attempt(cfg, hosts, n, i, DETECTOR_LOCAL_ORIGIN, now_ms, stats);
    return OUTLIER_NONE;
  }
  return OUTLIER_NONE;
}

size_t outlier_tick(const struct outlier_config *cfg, struct outlier_host *hosts, size_t n, int64_t now_ms,
                    struct outlier_stats *stats) {
  if (!cfg->enabled) return 0;
  size_t back = 0;
  for (size_t i = 0; i < n; i++) {
    struct outlier_host *h = &hosts[i];
    if (!h->ejected) {
      /* In since before this sweep: one step back towards the base ejection time. */
      if (h->multiplier > 0) h->multiplier--;
      continue;
    }
    if (now_ms - h->ejected_at_ms >= ejection_ms(cfg, h->multiplier)) {
      h->ejected = false;
      /* Cleared so a host does not go straight back out on a count it built before. */
      h->consecutive_5xx = h->consecutive_gateway = h->consecutive_local_origin = 0;
      if (stats && stats->ejections_active > 0) stats->ejections_active--;
      back++;
    }
  }
  return back;
}
