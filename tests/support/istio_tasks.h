/* Istio's task YAML that more than one test reads, kept once.
 *
 * ISTIO_TASK_LOCAL_RATE_LIMIT: Istio's rate-limiting task, "local rate limit"
 * (istio.io/latest/docs/tasks/policy-enforcement/rate-limit/): the service-level EnvoyFilter on
 * productpage's inbound listener, as the task writes it (TypedStruct form, 4 tokens a minute,
 * x-local-rate-limit on the 429).
 */
#ifndef TEST_ISTIO_TASKS_H
#define TEST_ISTIO_TASKS_H

#define ISTIO_TASK_LOCAL_RATE_LIMIT                                                                             \
  "apiVersion: networking.istio.io/v1alpha3\n"                                                                  \
  "kind: EnvoyFilter\n"                                                                                         \
  "metadata:\n"                                                                                                 \
  "  name: filter-local-ratelimit-svc\n"                                                                        \
  "  namespace: istio-system\n"                                                                                 \
  "spec:\n"                                                                                                     \
  "  workloadSelector:\n"                                                                                       \
  "    labels:\n"                                                                                               \
  "      app: productpage\n"                                                                                    \
  "  configPatches:\n"                                                                                          \
  "    - applyTo: HTTP_FILTER\n"                                                                                \
  "      match:\n"                                                                                              \
  "        context: SIDECAR_INBOUND\n"                                                                          \
  "        listener:\n"                                                                                         \
  "          filterChain:\n"                                                                                    \
  "            filter:\n"                                                                                       \
  "              name: \"envoy.filters.network.http_connection_manager\"\n"                                     \
  "      patch:\n"                                                                                              \
  "        operation: INSERT_BEFORE\n"                                                                          \
  "        value:\n"                                                                                            \
  "          name: envoy.filters.http.local_ratelimit\n"                                                        \
  "          typed_config:\n"                                                                                   \
  "            \"@type\": type.googleapis.com/udpa.type.v1.TypedStruct\n"                                       \
  "            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n" \
  "            value:\n"                                                                                        \
  "              stat_prefix: http_local_rate_limiter\n"                                                        \
  "              token_bucket:\n"                                                                               \
  "                max_tokens: 4\n"                                                                             \
  "                tokens_per_fill: 4\n"                                                                        \
  "                fill_interval: 60s\n"                                                                        \
  "              filter_enabled:\n"                                                                             \
  "                runtime_key: local_rate_limit_enabled\n"                                                     \
  "                default_value:\n"                                                                            \
  "                  numerator: 100\n"                                                                          \
  "                  denominator: HUNDRED\n"                                                                    \
  "              filter_enforced:\n"                                                                            \
  "                runtime_key: local_rate_limit_enforced\n"                                                    \
  "                default_value:\n"                                                                            \
  "                  numerator: 100\n"                                                                          \
  "                  denominator: HUNDRED\n"                                                                    \
  "              response_headers_to_add:\n"                                                                    \
  "                - append: false\n"                                                                           \
  "                  header:\n"                                                                                 \
  "                    key: x-local-rate-limit\n"                                                               \
  "                    value: 'true'\n"

#endif
