package k8s

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func doc(t *testing.T, y string) document {
	t.Helper()
	d, err := toDocument([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A writer's changes (base to mine) applied on what another writer stored
// (theirs): disjoint changes merge, overlapping ones are named.
func TestThreeWayMerge(t *testing.T) {
	t.Parallel()
	base := "spec: [{task: http}]\nresult: {numLoops: 1, failure: false, insights: {numVersions: 1}}\n"
	tests := []struct {
		name, mine, theirs string
		want               string // merged document, when no conflict
		conflicts          string
	}{
		{name: "only mine", mine: "spec: [{task: http}]\nresult: {numLoops: 2, failure: false, insights: {numVersions: 1}}\n", theirs: base,
			want: "result:\n  failure: false\n  insights:\n    numVersions: 1\n  numLoops: 2\nspec:\n- task: http\n"},
		{name: "disjoint", mine: "spec: [{task: http}]\nresult: {numLoops: 2, failure: false, insights: {numVersions: 1}}\n",
			theirs: "spec: [{task: http}]\nresult: {numLoops: 1, failure: true, insights: {numVersions: 1, x: 1}}\n",
			want:   "result:\n  failure: true\n  insights:\n    numVersions: 1\n    x: 1\n  numLoops: 2\nspec:\n- task: http\n"},
		{name: "same change", mine: "spec: [{task: http}]\nresult: {numLoops: 2.0, failure: false, insights: {numVersions: 1}}\n",
			theirs: "spec: [{task: http}]\nresult: {numLoops: 2, failure: false, insights: {numVersions: 1}}\n",
			want:   "result:\n  failure: false\n  insights:\n    numVersions: 1\n  numLoops: 2\nspec:\n- task: http\n"},
		{name: "deleted by mine", mine: "spec: [{task: http}]\nresult: {numLoops: 1, failure: false}\n", theirs: base,
			want: "result:\n  failure: false\n  numLoops: 1\nspec:\n- task: http\n"},
		{name: "both changed a field", mine: "spec: [{task: http}]\nresult: {numLoops: 2, failure: false, insights: {numVersions: 1}}\n",
			theirs: "spec: [{task: http}]\nresult: {numLoops: 3, failure: false, insights: {numVersions: 1}}\n", conflicts: "result.numLoops"},
		{name: "lists are replaced whole", mine: "spec: [{task: http, with: {qps: 8}}]\nresult: {numLoops: 1, failure: false, insights: {numVersions: 1}}\n",
			theirs: "spec: [{task: grpc}]\nresult: {numLoops: 1, failure: false, insights: {numVersions: 1}}\n", conflicts: "spec"},
		{name: "they deleted what mine changed", mine: "spec: [{task: http}]\nresult: {numLoops: 1, failure: false, insights: {numVersions: 2}}\n",
			theirs: "spec: [{task: http}]\nresult: {numLoops: 1, failure: false}\n", conflicts: "result.insights.numVersions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, mine, theirs := doc(t, base), doc(t, tc.mine), doc(t, tc.theirs)
			changes := diff(b, mine)
			got := conflicts(b, theirs, changes)
			if strings.Join(got, ",") != tc.conflicts {
				t.Fatalf("conflicts %v, want %q", got, tc.conflicts)
			}
			if tc.conflicts != "" {
				return
			}
			next := deepCopy(theirs).(document)
			apply(next, changes)
			out, err := encodeDocument(next)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, string(out)); d != "" {
				t.Errorf("merged (-want +got):\n%s", d)
			}
		})
	}
}
