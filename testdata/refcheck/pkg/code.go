package pkg

// As STYLE §4 asks. PLANTED
// See docs/gone.md. PLANTED
// From ../../elsewhere/x.go. PLANTED
// Fine: docs/guide.md, ../adapters/store/store.go, "github.com/x/y/adapters/http", /client/login, application/json, f[0](x).
