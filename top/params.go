package top

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DefaultMaxBodyBytes bounds a request body. Point calls are a few hundred
// bytes; nothing this gateway serves needs more than this.
const DefaultMaxBodyBytes = 1 << 20

// maxParams bounds how many parameters one request may carry.
const maxParams = 1000

// File is a multipart part that carries a file. Files never take part in
// the signature and are kept apart from the text parameters.
type File struct {
	Param       string // the part's name
	Filename    string
	ContentType string
	Data        []byte
}

var errTooLarge = errors.New("request body too large")

// parseParams merges the text parameters of the query string and the body
// (form-urlencoded or multipart). A key in both takes the body's value; a
// key repeated within one source keeps its first value. Media types and
// part dispositions are matched case-insensitively. A body of no known
// media type (or none) but form-urlencoded is ignored, except that a body
// without Content-Type is read as form-urlencoded, which costs nothing and
// helps hand-written clients. A multipart body must end with its closing
// boundary (endsClosed). On an error the parameters read so far come
// back too, with the body's format found by a raw scan where the body
// could not be decoded, so that the error is answered in the format the
// client asked for (errorFormat).
func parseParams(rawQuery, contentType string, body io.Reader, maxBody int64) (map[string]string, []File, *ErrorResponse) {
	params := make(map[string]string)
	var files []File
	if body != nil {
		mediaType, mparams, err := mime.ParseMediaType(contentType)
		if err != nil && mediaType == "" && strings.TrimSpace(contentType) != "" {
			return nil, nil, platformError(CodeParameterError, "", "malformed Content-Type")
		}
		switch {
		case strings.TrimSpace(contentType) == "" || mediaType == "application/x-www-form-urlencoded":
			b, err := io.ReadAll(io.LimitReader(body, maxBody+1))
			if err != nil {
				noteRawFormat(string(b), params)
				return params, nil, bodyError(err, "cannot read request body")
			}
			if int64(len(b)) > maxBody {
				noteRawFormat(string(b), params)
				return params, nil, tooLarge()
			}
			if e := parseForm(string(b), params); e != nil {
				noteRawFormat(string(b), params)
				return params, nil, e
			}
		case strings.HasPrefix(mediaType, "multipart/"):
			boundary := mparams["boundary"]
			if boundary == "" {
				return nil, nil, platformError(CodeParameterError, "", "multipart body without boundary")
			}
			// The body is kept as it is read (it is bounded, and its
			// parts are kept whole anyway) to see how it ends.
			var raw bytes.Buffer
			lr := &limitReader{r: io.TeeReader(body, &raw), n: maxBody}
			var e *ErrorResponse
			files, e = parseMultipart(multipart.NewReader(lr, boundary), params)
			if e != nil {
				return params, nil, e
			}
			if _, err := io.Copy(io.Discard, lr); err != nil {
				return params, nil, multipartError(err)
			}
			if !endsClosed(raw.Bytes(), boundary) {
				return params, nil, platformError(CodeParameterError, "", "multipart body does not end with its closing boundary")
			}
		}
	}
	query := make(map[string]string)
	if e := parseForm(rawQuery, query); e != nil {
		return params, nil, e
	}
	for k, v := range query {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	if len(params) > maxParams {
		return params, nil, platformError(CodeParameterError, "", "too many parameters")
	}
	return params, files, nil
}

// parseForm reads application/x-www-form-urlencoded text into params. It
// splits on '&' only, so a raw ';' stays part of a value.
func parseForm(s string, params map[string]string) *ErrorResponse {
	n := 0
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		if n++; n > maxParams {
			return platformError(CodeParameterError, "", "too many parameters")
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return platformError(CodeInvalidEncoding, "", "malformed percent-encoding")
		}
		if e := addParam(params, key, val); e != nil {
			return e
		}
	}
	return nil
}

// addParam stores a text parameter unless key is already there. All
// clients send UTF-8; anything else is answered with 47, not guessed at.
func addParam(params map[string]string, key, val string) *ErrorResponse {
	if !utf8.ValidString(key) || !utf8.ValidString(val) {
		return platformError(CodeInvalidEncoding, "", "parameters must be UTF-8")
	}
	if key == "" {
		return nil
	}
	if _, ok := params[key]; !ok {
		params[key] = val
	}
	return nil
}

// parseMultipart reads every part by hand rather than with
// Request.ParseMultipartForm, which drops the Python SDK's file parts
// ("Content-Disposition: file; …"). A part with a filename, or of
// disposition "file", is a file; other named parts are text parameters.
func parseMultipart(mr *multipart.Reader, params map[string]string) ([]File, *ErrorResponse) {
	var files []File
	for n := 0; ; n++ {
		if n > maxParams {
			return nil, platformError(CodeParameterError, "", "too many parameters")
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, multipartError(err)
		}
		disp, dparams, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		if err != nil || (disp != "form-data" && disp != "file") {
			// Not a parameter (or unreadable); skip it as net/http would.
			if _, err := io.Copy(io.Discard, part); err != nil {
				return nil, multipartError(err)
			}
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return nil, multipartError(err)
		}
		name := dparams["name"]
		filename, hasFilename := dparams["filename"]
		if disp == "file" || hasFilename {
			files = append(files, File{
				Param:       name,
				Filename:    filename,
				ContentType: part.Header.Get("Content-Type"),
				Data:        data,
			})
			continue
		}
		if e := addParam(params, name, string(data)); e != nil {
			return nil, e
		}
	}
}

// endsClosed reports whether a multipart body ends with its
// close-delimiter ("--boundary--" at the start of a line), blanks and line
// breaks after it aside. multipart.Reader answers io.EOF both at the
// close-delimiter and when the body stops inside a part's header section
// (textproto's EOF comes through as is), so a body cut off there would be
// taken with its last part silently dropped — and file parts are not
// signed, so the signature would not notice. A body cut anywhere else
// already fails to parse. The price: an epilogue after the
// close-delimiter, which RFC 2046 allows and no TOP SDK sends, is refused
// too.
func endsClosed(body []byte, boundary string) bool {
	b := bytes.TrimRight(body, " \t\r\n")
	rest, ok := bytes.CutSuffix(b, []byte("--"+boundary+"--"))
	return ok && (len(rest) == 0 || rest[len(rest)-1] == '\n')
}

func multipartError(err error) *ErrorResponse {
	return bodyError(err, "malformed multipart body")
}

func tooLarge() *ErrorResponse {
	return platformError(CodeParameterError, "", "request body too large")
}

// limitReader fails with errTooLarge once more than n bytes are read, so an
// oversized multipart body is told apart from a malformed one.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	if l.n < 0 {
		return k, errTooLarge
	}
	return k, err
}

// rawFormat finds the first format parameter in form-urlencoded text
// without decoding the rest, which may be what could not be decoded.
func rawFormat(form string) (string, bool) {
	for pair := range strings.SplitSeq(form, "&") {
		if k, v, _ := strings.Cut(pair, "="); k == "format" {
			return v, true
		}
	}
	return "", false
}

// noteRawFormat keeps the format of a body that could not be read whole.
func noteRawFormat(body string, params map[string]string) {
	if v, ok := rawFormat(body); ok {
		params["format"] = v // still escaped: errorFormat decodes it
	}
}

// errorFormat picks the answer format for a request whose parameters could
// not all be read: the body's format if it was found (the body wins, as
// for a request read whole), else the query string's; XML when neither
// names JSON.
func errorFormat(params map[string]string, rawQuery string) string {
	v, ok := params["format"]
	if !ok {
		v, _ = rawFormat(rawQuery)
	}
	if u, err := url.QueryUnescape(v); err == nil {
		v = u
	}
	if strings.EqualFold(v, FormatJSON) {
		return FormatJSON
	}
	return FormatXML
}
