package tables

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Column is one table column; Wide columns show only with -o wide.
type Column struct {
	Name, Type, Format, Description string
	Wide                            bool
}

type convertor[T runtime.Object] struct {
	columns []metav1.TableColumnDefinition
	row     func(T) []any
	// noName leaves the name out of the first cell (events put it last).
	noName bool
}

// For builds a table convertor for objects of type T; row returns the cells
// after the name (the name column comes first, as in every upstream table).
func For[T runtime.Object](columns []Column, row func(T) []any) rest.TableConvertor {
	defs := []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}}
	for _, c := range columns {
		d := metav1.TableColumnDefinition{Name: c.Name, Type: c.Type, Format: c.Format, Description: c.Description}
		if d.Type == "" {
			d.Type = "string"
		}
		if c.Wide {
			d.Priority = 1
		}
		defs = append(defs, d)
	}
	return &convertor[T]{columns: defs, row: row}
}

func (c *convertor[T]) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	add := func(o runtime.Object) error {
		t, ok := o.(T)
		if !ok {
			return fmt.Errorf("table: unexpected %T", o)
		}
		m, err := meta.Accessor(o)
		if err != nil {
			return err
		}
		cells := c.row(t)
		if !c.noName {
			cells = append([]any{m.GetName()}, cells...)
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells, Object: runtime.RawExtension{Object: o}})
		return nil
	}
	if meta.IsListType(obj) {
		if err := meta.EachListItem(obj, add); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = l.GetResourceVersion()
			table.Continue = l.GetContinue()
			table.RemainingItemCount = l.GetRemainingItemCount()
		}
	} else {
		if err := add(obj); err != nil {
			return nil, err
		}
		if m, err := meta.Accessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
		}
	}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = c.columns
	}
	return table, nil
}

// Age renders how long ago t was, as kubectl's AGE column does.
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func join(items []string) string {
	return orNone(strings.Join(items, ","))
}

var age = Column{Name: "Age", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
