// promql-eval evaluates PromQL instant queries on series written in promtool's notation, with
// Prometheus' own engine and loader at the version the stack pins (the code `promtool test rules`
// runs). It reads JSON on stdin and writes JSON on stdout:
//
//	{"cases": [{"interval": "1m", "series": [{"series": "up{job=\"x\"}", "values": "1x10"}],
//	            "queries": [{"expr": "up == 1", "at": "5m"}]}]}
//	→ {"results": [[{"samples": [{"labels": {...}, "value": "1"}]} | {"error": "..."}]]}
//
// tests/alerting uses it to run each rule's query A as Grafana's form would send it, and to read
// the labels a rule's expression keeps.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
)

type series struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type query struct {
	Expr string `json:"expr"`
	At   string `json:"at"`
}

type testCase struct {
	Interval string   `json:"interval"`
	Series   []series `json:"series"`
	Queries  []query  `json:"queries"`
}

type sample struct {
	Labels map[string]string `json:"labels"`
	Value  string            `json:"value"`
}

type result struct {
	Samples []sample `json:"samples"`
	Error   string   `json:"error,omitempty"`
}

func evalCase(c testCase) ([]result, error) {
	var load strings.Builder
	fmt.Fprintf(&load, "load %s\n", c.Interval)
	for _, s := range c.Series {
		fmt.Fprintf(&load, "  %s %s\n", s.Series, s.Values)
	}
	suite, err := promqltest.NewLazyLoader(load.String(), promqltest.LazyLoaderOpts{
		EnableAtModifier: true, EnableNegativeOffset: true})
	if err != nil {
		return nil, err
	}
	defer suite.Close()
	interval, err := model.ParseDuration(c.Interval)
	if err != nil {
		return nil, err
	}
	suite.SubqueryInterval = time.Duration(interval)
	out := make([]result, 0, len(c.Queries))
	for _, q := range c.Queries {
		at, err := model.ParseDuration(q.At)
		if err != nil {
			return nil, err
		}
		ts := time.Unix(0, 0).UTC().Add(time.Duration(at))
		var loadErr error
		suite.WithSamplesTill(ts, func(e error) { loadErr = e })
		if loadErr != nil {
			return nil, loadErr
		}
		qry, err := suite.QueryEngine().NewInstantQuery(suite.Context(), suite.Queryable(), nil, q.Expr, ts)
		if err != nil {
			out = append(out, result{Error: err.Error()})
			continue
		}
		res := qry.Exec(context.Background())
		if res.Err != nil {
			out = append(out, result{Error: res.Err.Error()})
			qry.Close()
			continue
		}
		r := result{Samples: []sample{}}
		switch v := res.Value.(type) {
		case promql.Vector:
			for _, s := range v {
				r.Samples = append(r.Samples, sample{Labels: s.Metric.Map(), Value: strconv.FormatFloat(s.F, 'g', -1, 64)})
			}
		case promql.Scalar:
			r.Samples = append(r.Samples, sample{Labels: map[string]string{}, Value: strconv.FormatFloat(v.V, 'g', -1, 64)})
		default:
			r.Error = fmt.Sprintf("unsupported result type %s", res.Value.Type())
		}
		qry.Close()
		out = append(out, r)
	}
	return out, nil
}

func main() {
	var input struct {
		Cases []testCase `json:"cases"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&input); err != nil {
		fmt.Fprintln(os.Stderr, "promql-eval: reading the input:", err)
		os.Exit(2)
	}
	results := make([][]result, 0, len(input.Cases))
	for i, c := range input.Cases {
		r, err := evalCase(c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "promql-eval: case %d: %v\n", i, err)
			os.Exit(1)
		}
		results = append(results, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]any{"results": results}); err != nil {
		os.Exit(1)
	}
}
