import Foundation
import Hummingbird
import WardenCore
import WardenHub
import WardenRegistry

/// `/api/v1/tenants/{tenant}/devices/{device}/methods/{method}`: invoke a direct method on a connected device
/// and return its answer.
struct MethodController {
    let registry: RegistryService
    let methods: MethodService

    struct Invocation: APIRequestBody {
        static let fields: Set<String> = ["payload", "responseTimeoutInSeconds"]
        let payload: JSONValue?
        let responseTimeoutInSeconds: Int?
    }

    /// The device's status and payload (JSON when it parses, else the text).
    struct Result: Codable {
        let status: Int
        let payload: JSONValue
    }

    var routes: [APIRoute] {
        [
            APIRoute(
                .post, "/api/v1/tenants/{tenant}/devices/{device}/methods/{method}", "invokeMethod",
                "Invoke a direct method; 404 when the device is offline, 504 when it does not answer in time",
                permission: .devicesControl, request: "MethodInvocation", success: (200, "MethodResult")
            ) { request, context in
                let tenantID = try request.tenantID(context)
                let deviceID = try request.deviceID(context)
                _ = try await registry.device(tenantID, deviceID)
                let name = try request.parameter("method", context)
                let invocation = try await request.decodeJSON(Invocation.self, context)
                let timeout = invocation.responseTimeoutInSeconds ?? 30
                guard (5...300).contains(timeout) else {
                    throw WardenError(.requestInvalidField, "Field 'responseTimeoutInSeconds' must be 5 to 300.")
                }
                let payload = try JSONResponse.encoder.encode(invocation.payload ?? .null)
                let response = try await methods.invoke(
                    name, payload: Array(payload), on: deviceID, in: tenantID, timeout: .seconds(timeout))
                // The device's answer: JSON within the payload limits, else its text.
                let answer =
                    (try? JSONValue.parse(response.payload, limits: .methodPayload))
                    ?? .string(String(decoding: response.payload, as: UTF8.self))
                return try JSONResponse.make(Result(status: response.status, payload: answer))
            }
        ]
    }
}
