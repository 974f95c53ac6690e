package workflow

import (
	"strconv"
	"strings"
)

// Paths name a place in a document in JSONPath style: "$" is the document,
// ".key" a member whose key is made of [A-Za-z0-9_-], `["key"]` any other
// member (JSON-quoted), "[3]" an array element. Example:
// `$.steps.fetch.depends_on[1]`, `$.steps["a.b"].input`.

// rootPath is the path of the whole document.
const rootPath = "$"

// keyPath returns the path of member key inside the value at parent.
func keyPath(parent, key string) string {
	if plainKey(key) {
		return parent + "." + key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

// indexPath returns the path of element i inside the array at parent.
func indexPath(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		b := key[i]
		if (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') && (b < '0' || b > '9') && b != '_' && b != '-' {
			return false
		}
	}
	return true
}

// relPath rewrites a path relative to a value ("$…") as a path under base.
func relPath(base, rel string) string {
	return base + strings.TrimPrefix(rel, rootPath)
}
