package tables

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodStatus(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"pending", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, "Pending"},
		{"waiting reason wins", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}}}, "ErrImagePull"},
		{"running", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}, "Running"},
		{"completed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}}}, "Completed"},
		{"init", corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}, "Init:0/1"},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}, "Terminating"},
	} {
		if got := PodStatus(&tc.pod); got != tc.want {
			t.Errorf("%s: PodStatus = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPodTable(t *testing.T) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.Now()},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "a", Ready: true, RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			{Name: "b", Ready: true, RestartCount: 2, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
	table, err := Pods.ConvertToTable(context.Background(), &corev1.PodList{Items: []corev1.Pod{*p}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			names = append(names, c.Name)
		}
	}
	if len(names) != 5 || names[0] != "Name" || names[1] != "Ready" || names[2] != "Status" || names[3] != "Restarts" || names[4] != "Age" {
		t.Errorf("columns = %v", names)
	}
	cells := table.Rows[0].Cells
	if cells[0] != "p" || cells[1] != "2/2" || cells[2] != "Running" || cells[3] != "3" {
		t.Errorf("cells = %v", cells)
	}
}

func TestStorageClassDefaultMark(t *testing.T) {
	old, newer := metav1.NewTime(time.Now().Add(-time.Hour)), metav1.Now()
	def := map[string]string{DefaultClassAnnotation: "true"}
	list := &storagev1.StorageClassList{Items: []storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "old-default", Annotations: def, CreationTimestamp: old}, Provisioner: "p"},
		{ObjectMeta: metav1.ObjectMeta{Name: "new-default", Annotations: map[string]string{BetaDefaultClassAnnotation: "true"}, CreationTimestamp: newer}, Provisioner: "p"},
		{ObjectMeta: metav1.ObjectMeta{Name: "plain", CreationTimestamp: newer}, Provisioner: "p"},
	}}
	table, err := StorageClasses.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []any
	for _, r := range table.Rows {
		names = append(names, r.Cells[0])
	}
	// Only the newest class marked default is the effective default.
	if names[0] != "old-default" || names[1] != "new-default (default)" || names[2] != "plain" {
		t.Errorf("names = %v", names)
	}
	cells := table.Rows[2].Cells
	if cells[1] != "p" || cells[2] != "Delete" || cells[3] != "Immediate" || cells[4] != false {
		t.Errorf("unset policy cells = %v", cells)
	}
	single, err := StorageClasses.ConvertToTable(context.Background(), &list.Items[1], nil)
	if err != nil || single.Rows[0].Cells[0] != "new-default" {
		t.Errorf("single class name = %v %v", single.Rows[0].Cells[0], err)
	}
}
