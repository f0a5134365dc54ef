import HTTPTypes
import WardenCore

/// The OpenAPI 3.1 description of the management API, built from the same route list as the router.
enum OpenAPIDocument {
    static func make(routes: [APIRoute], version: String) -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for route in routes {
            paths[route.path, default: [:]][route.method.rawValue.lowercased()] = operation(route)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Warden management API", "version": .string(version),
                "description": "Every error is an RFC 9457 problem (application/problem+json) with a stable `code`.",
            ],
            "servers": [["url": "/"]],
            "security": [["bearer": []]],
            "paths": .object(paths.mapValues { .object($0) }),
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
                "schemas": .object(OpenAPISchemas.all),
            ],
        ]
    }

    private static func operation(_ route: APIRoute) -> JSONValue {
        var operation: [String: JSONValue] = [
            "operationId": .string(route.operationID),
            "summary": .string(route.summary),
            "x-warden-permission": route.permission.map { .string($0.rawValue) } ?? "public",
        ]
        if route.permission == nil { operation["security"] = [] }
        let parameters = route.path.split(separator: "/").filter { $0.hasPrefix("{") }.map { segment -> JSONValue in
            let name = String(segment.dropFirst().dropLast())
            return [
                "name": .string(name), "in": "path", "required": true,
                "schema": OpenAPISchemas.pathParameters[name] ?? OpenAPISchemas.string,
            ]
        }
        var allParameters = parameters
        if route.method == .get, route.success.schema?.hasSuffix("List") == true {
            allParameters.append([
                "name": "limit", "in": "query", "schema": ["type": "integer", "minimum": 1, "maximum": 1000],
            ])
            allParameters.append(["name": "cursor", "in": "query", "schema": ["type": "string"]])
        }
        for parameter in route.query {
            allParameters.append([
                "name": .string(parameter.name), "in": "query", "schema": parameter.schema,
                "description": .string(parameter.description),
            ])
        }
        if [.patch, .delete, .put].contains(route.method) || route.path.hasSuffix("/rotate") {
            allParameters.append(["name": "If-Match", "in": "header", "schema": ["type": "string"]])
        }
        if !allParameters.isEmpty { operation["parameters"] = .array(allParameters) }
        if let schema = route.requestSchema {
            let mediaType = OpenAPISchemas.mediaTypes[schema] ?? "application/json"
            operation["requestBody"] = [
                "required": true,
                "content": [mediaType: ["schema": ["$ref": .string("#/components/schemas/\(schema)")]]],
            ]
        }
        var success: [String: JSONValue] = ["description": "Success"]
        if let schema = route.success.schema {
            let mediaType = OpenAPISchemas.mediaTypes[schema] ?? "application/json"
            success["content"] = .object([mediaType: ["schema": ["$ref": .string("#/components/schemas/\(schema)")]]])
        }
        operation["responses"] = [
            String(route.success.status): .object(success),
            "default": [
                "description": "An RFC 9457 problem",
                "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]],
            ],
        ]
        return .object(operation)
    }
}
