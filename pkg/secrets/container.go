package secrets

import (
	"regexp"
	"strings"
)

// Container names the place secrets live: a Jira issue, or one macro on one
// Confluence page. It always comes from a verified token, never from a
// parameter the browser can change.
type Container string

// AdminContainer is the container of admin-page sessions. It holds no
// secrets; admin routes check it.
const AdminContainer Container = "admin"

// Ids from the host are opaque, but they are short and URL-safe in practice.
// Anything else is refused so a container name can never be ambiguous.
var hostID = regexp.MustCompile(`^[A-Za-z0-9._~-]{1,128}$`)

// JiraIssueContainer returns the container of a Jira issue.
func JiraIssueContainer(issueID string) (Container, error) {
	if !hostID.MatchString(issueID) {
		return "", Errorf(CodeInvalid, "The issue id is missing or malformed.")
	}
	return Container("jira:issue:" + issueID), nil
}

// ConfluenceMacroContainer returns the container of one macro on a page.
func ConfluenceMacroContainer(pageID, macroID string) (Container, error) {
	if !hostID.MatchString(pageID) || !hostID.MatchString(macroID) {
		return "", Errorf(CodeInvalid, "The page id or macro id is missing or malformed.")
	}
	return Container("confluence:page:" + pageID + ":" + macroID), nil
}

// Product returns the product a container belongs to, or "" for the admin
// container and unknown values.
func (c Container) Product() Product {
	switch {
	case strings.HasPrefix(string(c), "jira:"):
		return ProductJira
	case strings.HasPrefix(string(c), "confluence:"):
		return ProductConfluence
	}
	return ""
}

// HoldsSecrets reports whether secrets may be stored in c.
func (c Container) HoldsSecrets() bool { return c.Product() != "" }
