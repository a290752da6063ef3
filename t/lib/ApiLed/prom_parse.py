#!/usr/bin/python3
# Reads a metrics exposition on stdin and prints its samples as JSON, as
# Debian's python3-prometheus-client parses them: the text format (0.0.4),
# or with the argument "openmetrics" the strict OpenMetrics 1.0 parser.  A
# parse error exits non-zero with the parser's message.
import json
import sys

if len(sys.argv) > 1 and sys.argv[1] == 'openmetrics':
    from prometheus_client.openmetrics.parser import \
        text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families

samples = []

for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({'family': family.name, 'type': family.type,
                        'name': s.name, 'labels': s.labels,
                        'value': s.value})

print(json.dumps(samples))
