// grafana-alerting-check decodes Grafana alerting provisioning files strictly (an unknown
// field anywhere is an error) into the models Grafana publishes in
// github.com/grafana/grafana-openapi-client-go, and runs their Validate().
//
//	grafana-alerting-check rules.yaml contact-points.yaml policies.yaml templates.yaml
//
// Model per top-level key:
//   - groups, contactPoints, policies: models.AlertingFileExport (Grafana's "export as file
//     provisioning" format, which is the provisioning file format).
//   - muteTimes: orgId + models.MuteTimeInterval. The published MuteTimeIntervalExport nests
//     time_intervals one level deeper than the files Grafana exports and reads (Grafana's
//     own definitions.MuteTimeIntervalExport is OrgID plus the MuteTimeInterval inline), so
//     each entry is decoded as that inline pair.
//   - templates: orgId + models.NotificationTemplate (the export model has no templates key).
//
// Exit status: 0 when every file passes, 1 when any fails, 2 on usage errors.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/go-openapi/strfmt"
	"github.com/grafana/grafana-openapi-client-go/models"
	"gopkg.in/yaml.v3"
)

type muteTime struct {
	OrgID int64 `json:"orgId"`
	models.MuteTimeInterval
}

type template struct {
	OrgID int64 `json:"orgId"`
	models.NotificationTemplate
}

type validator interface {
	Validate(strfmt.Registry) error
}

// strict re-encodes a YAML value as JSON and decodes it into target, refusing unknown fields.
func strict(value any, target any) error {
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	return decoder.Decode(target)
}

func validate(target validator, what string) error {
	if err := target.Validate(strfmt.Default); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func checkFile(path string) (int, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return 0, fmt.Errorf("not YAML: %w", err)
	}
	if version, ok := doc["apiVersion"].(int); !ok || version != 1 {
		return 0, fmt.Errorf("apiVersion must be 1, got %v", doc["apiVersion"])
	}
	checked := 0
	muteTimes, _ := doc["muteTimes"].([]any)
	templates, _ := doc["templates"].([]any)
	delete(doc, "muteTimes")
	delete(doc, "templates")
	if _, ok := doc["muteTimes"]; ok {
		return 0, fmt.Errorf("muteTimes must be a list")
	}
	export := models.AlertingFileExport{}
	if err := strict(doc, &export); err != nil {
		return 0, fmt.Errorf("AlertingFileExport: %w", err)
	}
	if err := validate(&export, "AlertingFileExport"); err != nil {
		return 0, err
	}
	checked += len(export.Groups) + len(export.ContactPoints) + len(export.Policies)
	for i, item := range muteTimes {
		var entry muteTime
		if err := strict(item, &entry); err != nil {
			return 0, fmt.Errorf("muteTimes[%d]: %w", i, err)
		}
		if err := validate(&entry.MuteTimeInterval, fmt.Sprintf("muteTimes[%d]", i)); err != nil {
			return 0, err
		}
		checked++
	}
	for i, item := range templates {
		var entry template
		if err := strict(item, &entry); err != nil {
			return 0, fmt.Errorf("templates[%d]: %w", i, err)
		}
		if err := validate(&entry.NotificationTemplate, fmt.Sprintf("templates[%d]", i)); err != nil {
			return 0, err
		}
		checked++
	}
	if checked == 0 {
		return 0, fmt.Errorf("no groups, contactPoints, policies, muteTimes or templates")
	}
	return checked, nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: grafana-alerting-check FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		checked, err := checkFile(path)
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("ok   %s: %d objects\n", path, checked)
	}
	if failed {
		os.Exit(1)
	}
}
