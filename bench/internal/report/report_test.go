package report

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReplaceSection(t *testing.T) {
	section := BeginMark + "\nnew\n" + EndMark + "\n"
	tests := []struct {
		name, old, want string
	}{
		{"between the markers", "# T\n\n" + BeginMark + "\nold\n" + EndMark + "\n\nafter\n", "# T\n\n" + section + "\nafter\n"},
		{"appended without markers", "# T\n", "# T\n\n## Results\n\n" + section},
		{"a new file", "", "\n## Results\n\n" + section},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "doc.md")
			if tt.old != "" {
				if err := os.WriteFile(path, []byte(tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := ReplaceSection(path, section); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
