package registry

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestTablesMatchTheirColumns renders an empty object of every kind with a
// table: each row must have one cell per column, or kubectl misprints.
func TestTablesMatchTheirColumns(t *testing.T) {
	for _, res := range Resources() {
		if res.Table == nil {
			continue
		}
		obj := res.New()
		obj.(metav1.Object).SetName("x")
		table, err := res.Table.ConvertToTable(context.Background(), obj, nil)
		if err != nil {
			t.Errorf("%s: %v", res.GroupResource(), err)
			continue
		}
		if len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(table.ColumnDefinitions) {
			t.Errorf("%s: %d cells for %d columns", res.GroupResource(), len(table.Rows[0].Cells), len(table.ColumnDefinitions))
		}
	}
}

func TestResourcesAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, res := range Resources() {
		key := res.GroupResource().String()
		if seen[key] {
			t.Errorf("%s listed twice", key)
		}
		seen[key] = true
		if res.New == nil || res.NewList == nil || res.Kind == "" || res.Singular == "" {
			t.Errorf("%s is incomplete", key)
		}
	}
}
