package connect_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/connect-secrets/secrets/pkg/connect"
)

// qshVector is one case of Atlassian's Connect signing interoperability
// suite (and atlassian-jwt's own tests), transcribed from
// shared/testdata/qsh/vectors.tsv.
type qshVector struct {
	name   string
	method string
	// input is the request as sent, jwt parameter aside.
	input string
	// form holds parameters that came in a form body rather than the URL.
	// atlassian-jwt (checkBodyForParams=true) folds them into the parameter
	// set; we model that by passing them as the query. The TSV's input for
	// that case reads "/hello-world (same params in body)".
	form      string
	canonical string
	qsh       string
}

var qshVectors = []qshVector{
	{name: "Simple", method: "GET", input: "https://example.com/test?param=value",
		canonical: "GET&/test&param=value",
		qsh:       "be16910858a41fd19ea5c1b4e9decca9a784d1024cb00b2158defe2f29dc86dd"},
	{name: "Spaces", method: "GET", input: "https://example.com/test?param=some+spaces+in+this+parameter",
		canonical: "GET&/test&param=some%20spaces%20in%20this%20parameter",
		qsh:       "ef4097d05395eaf1a133956f140116a9c411afad768d4f06daac9e305764265d"},
	{name: "Asterisk", method: "GET", input: "https://example.com/test?query=connect*",
		canonical: "GET&/test&query=connect%2A",
		qsh:       "0d28bc10d1972d9cab59e123ce17976eb32aad6957a13cfb8b97ced6d3fc8a29"},
	{name: "Unicode", method: "GET", input: "https://example.com/test?director=%E5%AE%AE%E5%B4%8E+%E9%A7%BF",
		canonical: "GET&/test&director=%E5%AE%AE%E5%B4%8E%20%E9%A7%BF",
		qsh:       "44d6354ffe8f963972a7fc59e98b2c3dfe4b493295c5b89edd974a339e61ac89"},
	{name: "Comma-delimited", method: "GET", input: "https://example.com/test?ids=10%2C2%2C20%2C1",
		canonical: "GET&/test&ids=10%2C2%2C20%2C1",
		qsh:       "2e617b65f966650789990e5cac8ff295ee5b453834d04798f466ff6035bd8829"},
	{name: "Multi-value Comma-delimited", method: "GET", input: "https://example.com/test?tuples=1%2C2%2C3&tuples=6%2C5%2C4&tuples=7%2C9%2C8",
		canonical: "GET&/test&tuples=1%2C2%2C3,6%2C5%2C4,7%2C9%2C8",
		qsh:       "f9f62bb61191dff1b219e9ade8ac38fcfa46272ea76d9545410db6559fd8e7bd"},
	{name: "Plus", method: "GET", input: "https://example.com/test?title=1+%2B+1+equals+3",
		canonical: "GET&/test&title=1%20%2B%201%20equals%203",
		qsh:       "ce0a866ce0c34cbde70deb63f6915192f58500d2b49b12e1ffc8cdf91edabc91"},
	{name: "JSON Object", method: "GET", input: "https://example.com/test?json=%7B%22key%22%3A%22value%22%7D",
		canonical: "GET&/test&json=%7B%22key%22%3A%22value%22%7D",
		qsh:       "1d74c5a1f0a6c72a3ce285570cbfd8fe736910123e6ada203d4c7ba9a6128a6f"},
	{name: "JSON Array", method: "GET", input: "https://example.com/test?json=%5B%22val1%22%2C%22val2%22%5D",
		canonical: "GET&/test&json=%5B%22val1%22%2C%22val2%22%5D",
		qsh:       "5a69d35f16534290a4ed2f9e53a45e6872cf0c3a1163295c42947d42931a1f73"},
	{name: "Single Quotes", method: "GET", input: "https://example.com/test?quote=%27quoted%27",
		canonical: "GET&/test&quote=%27quoted%27",
		qsh:       "207a30376c594d5cde7b6e873b943f84798371d3293b7eac27e2c2a2a5d111d5"},
	{name: "Brackets", method: "GET", input: "https://example.com/test?param=%28%29",
		canonical: "GET&/test&param=%28%29",
		qsh:       "46b9787a8983560f446f82d6143122d99e153affd5688fa45343074a091573eb"},
	{name: "Tilde", method: "GET", input: "https://example.com/test?eta=in+%7E3+days",
		canonical: "GET&/test&eta=in%20~3%20days",
		qsh:       "5c5f97cdfe3abd8feb48f6f0240a71ef5c111289a5bf77ddf645250b3951ec63"},
	{name: "RFC-1738 Unsafe", method: "GET", input: "https://example.com/test?rfc=+%3C%3E%22%23%25%7B%7D%7C%5C%5E%7E%5B%5D%60",
		canonical: "GET&/test&rfc=%20%3C%3E%22%23%25%7B%7D%7C%5C%5E~%5B%5D%60",
		qsh:       "36ba39c5379d752bbef1349ba58df98ecaa456b78c7c2e3245e2f33eac712a49"},
	{name: "RFC-1738 Reserved", method: "GET", input: "https://example.com/test?rfc=%3B%2F%3F%3A%40%3D%26",
		canonical: "GET&/test&rfc=%3B%2F%3F%3A%40%3D%26",
		qsh:       "639330bc92d79373b198da697873b2f03f1a3a0c5af78cf8eea517f14960b150"},
	{name: "RFC-1738 Special", method: "GET", input: "https://example.com/test?rfc=%24-_.%2B%21*%27%28%29%2C",
		canonical: "GET&/test&rfc=%24-_.%2B%21%2A%27%28%29%2C",
		qsh:       "0e36229cc459ff8ccb4845c11433cfbbe25bfa45e8c1ea14d2a124231cb0a2e9"},
	{name: "RFC-3986 Unreserved", method: "GET", input: "https://example.com/test?rfc=-._%7E",
		canonical: "GET&/test&rfc=-._~",
		qsh:       "0ddf7e631c3b11e7975814ee84fec26804dc72b0a0e997871d8415cee6b78b31"},
	{name: "RFC-3986 gen-delims", method: "GET", input: "https://example.com/test?rfc=%3A%2F%3F%23%5B%5D%40",
		canonical: "GET&/test&rfc=%3A%2F%3F%23%5B%5D%40",
		qsh:       "96041ee45ad4b8ea29bce42f3e2835490591f55e84bddbbab82151d4a1ac1a11"},
	{name: "RFC-3986 sub-delims", method: "GET", input: "https://example.com/test?rfc=%21%24%26%27%28%29*%2B%2C%3B%3D",
		canonical: "GET&/test&rfc=%21%24%26%27%28%29%2A%2B%2C%3B%3D",
		qsh:       "b8d049874f1fe5abe274d20bdecebee8daada453191a827738eebcd759efd4e1"},
	{name: "Empty", method: "GET", input: "https://example.com/test?notmuch=",
		canonical: "GET&/test&notmuch=",
		qsh:       "20fecded9951516a3447b1b556d0eb350de29770505253a30dc739502e05ddc7"},
	{name: "Encoded", method: "GET", input: "https://example.com/test?referrer=http%3A%2F%2Ffrom.net%2Fp%3Fx%3DA%2B%252B%2BB%26y%3D%2524-_.%252B%2521*%2527%2528%2529%252C",
		canonical: "GET&/test&referrer=http%3A%2F%2Ffrom.net%2Fp%3Fx%3DA%2B%252B%2BB%26y%3D%2524-_.%252B%2521%2A%2527%2528%2529%252C",
		qsh:       "7ca81b8e4e83c2375eea7b8b50bd3786ba8b43261193a3bd3ccdfca06120ee33"},
	{name: "Multi-value", method: "GET", input: "https://example.com/test?ids=-1&ids=1&ids=10&ids=2&ids=20",
		canonical: "GET&/test&ids=-1,1,10,2,20",
		qsh:       "a646c48741faaeb649f9ca7888ae029ead432e3806f56c4a57b80b3e2ac628a9"},
	{name: "Multi-value II", method: "GET", input: "https://example.com/test?ids=.1&ids=.2&ids=%3A1&ids=%3A2",
		canonical: "GET&/test&ids=.1,.2,%3A1,%3A2",
		qsh:       "f0524d42e0f8661862e1f1e9add8757972a0043bb7136d641735d21874c5a056"},
	{name: "Multi-value Unicode", method: "GET", input: "https://example.com/test?chars=%E5%AE%AE&chars=%E5%B4%8E&chars=%E9%A7%BF",
		canonical: "GET&/test&chars=%E5%AE%AE,%E5%B4%8E,%E9%A7%BF",
		qsh:       "72a7f7ce9f93157f296b86338315423d6f3b6aba5081f04bbdb6bb18218b65ee"},
	{name: "Multi-value Empty", method: "GET", input: "https://example.com/test?c=&c=+&c=%2520&c=%2B",
		canonical: "GET&/test&c=,%20,%2520,%2B",
		qsh:       "cbbcac9a6a02f3ad96c5ab5bf876dd9f79b2c61ceec5660a1c9d73a3b102ec2c"},
	{name: "Key RFC-1738 Unsafe", method: "GET", input: "https://example.com/test?%231=value",
		canonical: "GET&/test&%231=value",
		qsh:       "eccb4a232d50ca41ac40398675b6487a711d9e972917d8a61cbc120f9fbda597"},
	{name: "Key RFC-1738 Reserved", method: "GET", input: "https://example.com/test?%3A1=value",
		canonical: "GET&/test&%3A1=value",
		qsh:       "6d823181a68a4952c75e4b51ad0b8d59e879859cdf977e7254545201bca8465d"},
	{name: "Key RFC-1738 Special", method: "GET", input: "https://example.com/test?%241=value",
		canonical: "GET&/test&%241=value",
		qsh:       "a9f61f1c8250ebfb9234654e71dec233c93c16a54fe30a649dfd65badf3c0171"},
	{name: "Multiple Parameters Simple", method: "GET", input: "https://example.com/test?a=x&b=y",
		canonical: "GET&/test&a=x&b=y",
		qsh:       "abd5de604b9d3cda44d3c7a9dd698a21259655394658a6642f87b9d825869460"},
	{name: "Multiple Multi-value Parameters", method: "GET", input: "https://example.com/test?a=x1&a=x10&b=y1&b=y10",
		canonical: "GET&/test&a=x1,x10&b=y1,y10",
		qsh:       "310ba3ff7e1e9a8cacd33dd6172501304bf325096d81ccad449465427e58a9c4"},
	{name: "Multiple Parameters Spaces", method: "GET", input: "https://example.com/test?a=another+one&a=one+string&b=and+yet+more&b=more+here",
		canonical: "GET&/test&a=another%20one,one%20string&b=and%20yet%20more,more%20here",
		qsh:       "700721e65385781fc1fa248220c75400f1e8a197c838ef1779f00b69bfa4a6ff"},
	{name: "Multiple Parameters Comma-delimited", method: "GET", input: "https://example.com/test?a=1%2C2%2C3&a=4%2C5%2C6&b=a%2Cb%2Cc&b=d%2Ce%2Cf",
		canonical: "GET&/test&a=1%2C2%2C3,4%2C5%2C6&b=a%2Cb%2Cc,d%2Ce%2Cf",
		qsh:       "06b76eb63acccce2356cdfc66f4abd1e3a061c0305c9fc76b616ae71fe3b6ab5"},
	{name: "Parameter Order", method: "GET", input: "https://example.com/test?a10=1&a1=2&b1=3&b10=4",
		canonical: "GET&/test&a1=2&a10=1&b1=3&b10=4",
		qsh:       "159cc3d3003f067c3ae263d19ded42dedd28221cce4d4757b13fc7722a24408f"},
	{name: "Upper- and Lower-case Parameters", method: "GET", input: "https://example.com/test?A=A&a=a&b=b&B=B",
		canonical: "GET&/test&A=A&B=B&a=a&b=b",
		qsh:       "539adc2b0aef2ec8659825893b8b92e6a53c9483e2150b8185b08490d8b6de60"},
	{name: "Search Request View", method: "GET", input: "https://example.com/search-view?link=http%3A%2F%2Fion%3A2990%2Fjira%2Fsecure%2FIssueNavigator.jspa%3Freset%3Dtrue%26jqlQuery%3Dissuetype%2B%253D%2BBug&startIssue=0&totalIssues=2&endIssue=2&issues=issues%3DTEST-2%2CTEST-1&tz=Australia%2FSydney&loc=en-US&user_id=admin&user_key=admin&xdm_e=http%3A%2F%2Fion.local%3A2990&xdm_c=channel-acmodule-1564427223927602208&cp=jira&lic=none",
		canonical: "GET&/search-view&cp=jira&endIssue=2&issues=issues%3DTEST-2%2CTEST-1&lic=none&link=http%3A%2F%2Fion%3A2990%2Fjira%2Fsecure%2FIssueNavigator.jspa%3Freset%3Dtrue%26jqlQuery%3Dissuetype%2B%253D%2BBug&loc=en-US&startIssue=0&totalIssues=2&tz=Australia%2FSydney&user_id=admin&user_key=admin&xdm_c=channel-acmodule-1564427223927602208&xdm_e=http%3A%2F%2Fion.local%3A2990",
		qsh:       "0cb74b80dd7f7793849867298ca2d889e4d8b66111b6896227bdbb490dc44ae1"},
	{name: "BasePath only", method: "GET", input: "https://example.com/test",
		canonical: "GET&/test&",
		qsh:       "bad328fac990349a8c88393c1755bc4f984a9c387202229b8ed52e04ff7e9fec"},
	{name: "BasePath with Delimiter", method: "GET", input: "https://example.com/endsWithDelimiter/?a=b",
		canonical: "GET&/endsWithDelimiter&a=b",
		qsh:       "8f77c6a0e6bf25041121ee44480d3c97ae9cca4b7a007ea6e1d648d9a26e5d1d"},
	{name: "BasePath with Delimiter Only", method: "GET", input: "https://example.com/endsWithDelimiter/",
		canonical: "GET&/endsWithDelimiter&",
		qsh:       "4c799e91fc8e1be9b1f034f2191ae80cb2080b54a85e9a2464ad2f2115f8d987"},
	{name: "BasePath RFC3986 Unreserved", method: "GET", input: "https://example.com/path-._~?a=b",
		canonical: "GET&/path-._~&a=b",
		qsh:       "5d1574ea0fd8974fa4326d87b3efec74004bf13d35395599de425327178c173b"},
	{name: "BasePath RFC3986 Subdelimiters", method: "GET", input: "https://example.com/path!$&'()*+,;=?a=b",
		canonical: "GET&/path!$%26'()*+,;=&a=b",
		qsh:       "9ef803f9cb8dea4f7f875caff8d31e95962c6e8bd44d64a848d6ebb055b2144b"},
	{name: "jwt_test: no query", method: "GET", input: "/path",
		canonical: "GET&/path&",
		qsh:       "799be84a7fa35570087163c0cd9af3abff7ac05c2c12ba0bb1d7eebc984b3ac2"},
	{name: "jwt_test: no path / '/'", method: "GET", input: "/",
		canonical: "GET&/&",
		qsh:       "c88caad15a1c1a900b8ac08aa9686f4e8184539bea1deda36e2f649430df3239"},
	{name: "jwt_test: hello-world query (jwt param ignored)", method: "GET", input: "/hello-world?lic=none&tz=Australia%2FSydney&cp=%2Fjira&user_key=&loc=en-US&user_id=&jwt=...&xdm_e=http%3A%2F%2Fstorm%3A2990&xdm_c=channel-servlet-hello-world&xdm_p=1",
		canonical: "GET&/hello-world&cp=%2Fjira&lic=none&loc=en-US&tz=Australia%2FSydney&user_id=&user_key=&xdm_c=channel-servlet-hello-world&xdm_e=http%3A%2F%2Fstorm%3A2990&xdm_p=1",
		qsh:       "8063ff4ca1e41df7bc90c8ab6d0f6207d491cf6dad7c66ea797b4614b71922e9"},
	{name: "jwt_test: POST, params in form body (checkBodyForParams=true)", method: "POST", input: "/hello-world",
		form:      "lic=none&tz=Australia%2FSydney&cp=%2Fjira&user_key=&loc=en-US&user_id=&xdm_e=http%3A%2F%2Fstorm%3A2990&xdm_c=channel-servlet-hello-world&xdm_p=1",
		canonical: "POST&/hello-world&cp=%2Fjira&lic=none&loc=en-US&tz=Australia%2FSydney&user_id=&user_key=&xdm_c=channel-servlet-hello-world&xdm_e=http%3A%2F%2Fstorm%3A2990&xdm_p=1",
		qsh:       "d7e7f00660965fc15745b2c423a89b85d0853c4463faca362e0371d008eb0927"},
	{name: "jwt_test: POST, body ignored (checkBodyForParams=false)", method: "POST", input: "/hello-world",
		canonical: "POST&/hello-world&",
		qsh:       "6f95f3738e1b037a3bebbe0ad237d80fdbc1d5ae452e98ce03a9c004c178ebb4"},
}

// splitInput splits a vector's input into the raw (escaped) path and raw
// query, as a server would see them in the request target.
func splitInput(t *testing.T, input string) (rawPath, rawQuery string) {
	t.Helper()
	u, err := url.Parse(input)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", input, err)
	}
	return u.EscapedPath(), u.RawQuery
}

func TestCanonicalRequestVectors(t *testing.T) {
	if len(qshVectors) != 44 {
		t.Fatalf("have %d vectors, want all 44", len(qshVectors))
	}
	for _, v := range qshVectors {
		t.Run(v.name, func(t *testing.T) {
			rawPath, rawQuery := splitInput(t, v.input)
			if v.form != "" {
				rawQuery = v.form
			}
			got, err := connect.CanonicalRequest(v.method, rawPath, rawQuery, "")
			if err != nil {
				t.Fatalf("CanonicalRequest: %v", err)
			}
			if got != v.canonical {
				t.Errorf("CanonicalRequest\n got %s\nwant %s", got, v.canonical)
			}
			qsh, err := connect.QSH(v.method, rawPath, rawQuery, "")
			if err != nil {
				t.Fatalf("QSH: %v", err)
			}
			if qsh != v.qsh {
				t.Errorf("QSH = %s, want %s", qsh, v.qsh)
			}
			// The vector's qsh must be the hash of its canonical form, or
			// the table itself is wrong.
			if sum := sha256.Sum256([]byte(v.canonical)); hex.EncodeToString(sum[:]) != v.qsh {
				t.Errorf("vector inconsistent: sha256(canonical) != qsh")
			}
		})
	}
}

func TestCanonicalRequest(t *testing.T) {
	tests := []struct {
		name                            string
		method, path, query, base, want string
	}{
		{"method upper-cased", "get", "/p", "", "", "GET&/p&"},
		{"empty path", "GET", "", "", "", "GET&/&"},
		{"path without leading slash", "GET", "p", "", "", "GET&/p&"},
		{"one trailing slash dropped", "GET", "/a/b//", "", "", "GET&/a/b/&"},
		{"ampersand in path", "GET", "/a&b&c", "", "", "GET&/a%26b%26c&"},
		{"path left as sent", "GET", "/a%2Fb%7e/c+d", "", "", "GET&/a%2Fb%7e/c+d&"},
		{"base path removed", "GET", "/wiki/rest/api/user", "a=1", "/wiki", "GET&/rest/api/user&a=1"},
		{"base path with trailing slash", "GET", "/wiki/rest", "", "/wiki/", "GET&/rest&"},
		{"base path without leading slash", "GET", "/wiki/rest", "", "wiki", "GET&/rest&"},
		{"path equal to base path", "GET", "/wiki", "", "/wiki", "GET&/&"},
		{"path equal to base path plus slash", "GET", "/wiki/", "", "/wiki", "GET&/&"},
		{"base path only at a segment boundary", "GET", "/wikipedia", "", "/wiki", "GET&/wikipedia&"},
		{"base path elsewhere untouched", "GET", "/x/wiki/y", "", "/wiki", "GET&/x/wiki/y&"},
		{"base path of slash", "GET", "/p", "", "/", "GET&/p&"},
		{"jwt excluded", "GET", "/p", "jwt=abc&a=1", "", "GET&/p&a=1"},
		{"encoded jwt name excluded", "GET", "/p", "%6Awt=abc&a=1", "", "GET&/p&a=1"},
		{"every jwt excluded", "GET", "/p", "jwt=1&jwt=2", "", "GET&/p&"},
		{"JWT is another name", "GET", "/p", "JWT=1", "", "GET&/p&JWT=1"},
		{"parameter without equals", "GET", "/p", "flag&a=1", "", "GET&/p&a=1&flag="},
		{"empty pairs skipped", "GET", "/p", "&a=1&&b=2&", "", "GET&/p&a=1&b=2"},
		{"value with equals", "GET", "/p", "a=b=c", "", "GET&/p&a=b%3Dc"},
		{"same name differently escaped", "GET", "/p", "a+b=2&a%20b=1", "", "GET&/p&a%20b=1,2"},
		{"raw non-ASCII bytes encoded", "GET", "/p", "n=\xe2\x82\xac", "", "GET&/p&n=%E2%82%AC"},
		{"lower-case escapes accepted", "GET", "/p", "a=%c3%a9", "", "GET&/p&a=%C3%A9"},
		{"empty name kept", "GET", "/p", "=x", "", "GET&/p&=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := connect.CanonicalRequest(tt.method, tt.path, tt.query, tt.base)
			if err != nil {
				t.Fatalf("CanonicalRequest: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCanonicalRequestRefuses(t *testing.T) {
	tests := []struct {
		name, method, query string
	}{
		{"semicolon", "GET", "a=1;b=2"},
		{"semicolon in name", "GET", "a;b=1"},
		{"semicolon only", "GET", ";"},
		{"truncated escape", "GET", "a=%4"},
		{"lone percent", "GET", "a=%"},
		{"bad hex", "GET", "a=%zz"},
		{"bad escape in name", "GET", "%G1=a"},
		{"bad escape after good pairs", "GET", "a=1&b=2&c=%"},
		{"empty method", "", "a=1"},
		{"method with ampersand", "GET&/x", ""},
		{"method with space", "GE T", ""},
		{"method with slash", "GET/", ""},
		{"non-ASCII method", "GÉT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := connect.CanonicalRequest(tt.method, "/p", tt.query, "")
			if !errors.Is(err, connect.ErrBadQuery) {
				t.Fatalf("CanonicalRequest = %q, %v; want ErrBadQuery", got, err)
			}
			if _, err := connect.QSH(tt.method, "/p", tt.query, ""); !errors.Is(err, connect.ErrBadQuery) {
				t.Errorf("QSH error = %v, want ErrBadQuery", err)
			}
		})
	}
}

func FuzzCanonicalRequest(f *testing.F) {
	for _, v := range qshVectors {
		u, err := url.Parse(v.input)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v.method, u.EscapedPath(), u.RawQuery, "")
	}
	f.Add("get", "/wiki/x/", "a=1;b", "/wiki")
	f.Add("POST", "", "%", "")
	f.Add("A&B", "&&", "&&=&", "&")
	f.Add("GET", "/p", "a=%E2%82", "/p/")
	f.Fuzz(func(t *testing.T, method, rawPath, rawQuery, basePath string) {
		got, err := connect.CanonicalRequest(method, rawPath, rawQuery, basePath)
		again, err2 := connect.CanonicalRequest(method, rawPath, rawQuery, basePath)
		if got != again || (err == nil) != (err2 == nil) {
			t.Fatalf("not deterministic: %q, %v then %q, %v", got, err, again, err2)
		}
		if err != nil {
			if !errors.Is(err, connect.ErrBadQuery) {
				t.Fatalf("error %v is not ErrBadQuery", err)
			}
			return
		}
		if !strings.HasPrefix(got, strings.ToUpper(method)+"&/") {
			t.Fatalf("%q does not start with %q", got, strings.ToUpper(method)+"&/")
		}
		// Exactly two separators outside the method: the path has its '&'
		// escaped and the query's pairs come after the second one.
		rest := strings.TrimPrefix(got, strings.ToUpper(method)+"&")
		path, _, ok := strings.Cut(rest, "&")
		if !ok || strings.Contains(path, "&") {
			t.Fatalf("path part of %q is not separated", got)
		}
		if len(path) > 1 && strings.HasSuffix(path, "/") && !strings.HasSuffix(rawPath, "//") {
			t.Fatalf("path %q keeps a trailing slash", path)
		}
	})
}

func BenchmarkCanonicalRequest(b *testing.B) {
	// The largest vector: a Jira iframe URL with the host's own parameters.
	var v qshVector
	for _, c := range qshVectors {
		if c.name == "Search Request View" {
			v = c
		}
	}
	u, err := url.Parse(v.input)
	if err != nil {
		b.Fatal(err)
	}
	path, query := u.EscapedPath(), u.RawQuery
	b.ReportAllocs()
	for b.Loop() {
		if _, err := connect.CanonicalRequest(v.method, path, query, ""); err != nil {
			b.Fatal(err)
		}
	}
}
