package phoneauth

import _ "embed"

// OpenAPIDocument is api/openapi.yaml: the wire contract docs/api.md
// describes (and the operational endpoints) as OpenAPI 3.1. The service serves it at
// GET /openapi.yaml; the end-to-end tests check every answer against it.
//
//go:embed api/openapi.yaml
var OpenAPIDocument []byte
