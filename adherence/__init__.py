"""Care plans, adherence scoring, the embedded local store, InfluxDB delivery, exports, reports."""
