package main

import (
	"debug/elf"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The image's binary is built as the tests build theirs (static, -trimpath),
// and the image runs it as a numeric non-root user. No container engine runs
// here, so the test checks the Dockerfile's build against the binary the
// end-to-end tests use.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	stages := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(df, -1)
	if len(stages) != 2 {
		t.Errorf("%d stages, want a build stage and a runtime stage", len(stages))
	}
	for _, want := range []string{"CGO_ENABLED=0", "go build -trimpath", "./cmd/iter8", "COPY --from=build /out/iter8 /usr/local/bin/iter8", `ENTRYPOINT ["iter8"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	user := regexp.MustCompile(`(?m)^USER (\d+):(\d+)$`).FindStringSubmatch(df)
	if user == nil || user[1] == "0" {
		t.Errorf("the image must run as a numeric non-root user (USER uid:gid), so runAsNonRoot can be enforced")
	}
	if testing.Short() {
		t.Skip("the rest reads the iter8 binary TestMain builds; runs without -short")
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a dynamic loader: it must be static to run on any base image")
		}
	}
}
