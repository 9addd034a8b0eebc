package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"
)

// corpusCase is one case of testdata/template-corpus/*.json. Field order is
// the order written back.
type corpusCase struct {
	Name         string          `json:"name"`
	Template     string          `json:"template"`
	Data         json.RawMessage `json:"data,omitempty"`
	Params       string          `json:"params,omitempty"`
	Kanister     bool            `json:"kanister,omitempty"`
	Output       *string         `json:"output,omitempty"`
	OutputBase64 *string         `json:"outputBase64,omitempty"`
	Error        *string         `json:"error,omitempty"`
}

type corpusFile struct {
	Comment string       `json:"comment,omitempty"`
	Cases   []corpusCase `json:"cases"`
}

// recordCorpus fills in output/error of every case of the given corpus files
// by rendering with the oracle, and rewrites the files.
func recordCorpus(paths []string) error {
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var f corpusFile
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		names := map[string]bool{}
		for i := range f.Cases {
			c := &f.Cases[i]
			if c.Name == "" || names[c.Name] {
				return fmt.Errorf("%s: case %d: missing or duplicate name %q", path, i, c.Name)
			}
			names[c.Name] = true
			var data interface{}
			if c.Params != "" {
				// A render-parameters fixture: testdata/params/<stem>.json
				// next to the corpus directory.
				pp := filepath.Join(filepath.Dir(path), "..", "params", c.Params+".json")
				raw, err := os.ReadFile(pp)
				if err != nil {
					return fmt.Errorf("%s: case %q: %w", path, c.Name, err)
				}
				rp, err := loadParams(raw)
				if err != nil {
					return fmt.Errorf("%s: case %q: %w", path, c.Name, err)
				}
				data = rp.base
			} else if len(c.Data) > 0 {
				if err := json.Unmarshal(c.Data, &data); err != nil {
					return fmt.Errorf("%s: case %q: data: %w", path, c.Name, err)
				}
			}
			c.Output, c.OutputBase64, c.Error = nil, nil, nil
			out, err := renderRecovered(c.Template, data, c.Kanister)
			if err != nil {
				msg := err.Error()
				c.Error = &msg
				continue
			}
			c.Output = &out
			if !utf8.ValidString(out) {
				b := base64.StdEncoding.EncodeToString([]byte(out))
				c.OutputBase64 = &b
			}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(f); err != nil {
			return err
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "recorded %d cases in %s\n", len(f.Cases), path)
	}
	return nil
}

func renderRecovered(src string, data interface{}, kanister bool) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	out, err, parseErr := execTemplate("config", src, data)
	if err != nil && kanister {
		err = kanisterError(err, parseErr)
	}
	return out, err
}
