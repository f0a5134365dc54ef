import Foundation
import HTTPTypes
import Hummingbird
import WardenAuthentication
import WardenAzure
import WardenCore
import WardenHub
import WardenProvisioning

/// DPS's device runtime API over HTTPS (protocols.md §1.5), on the HTTPS port: register, then poll the
/// operation, as the C SDK's HTTP transport does. Each request proves the registration itself — a SAS token over
/// `{idScope}/registrations/{registrationId}` in `Authorization`, or the connection's client certificate — and
/// is answered in DPS's shapes: `RegistrationOperationStatus`, or `ProvisioningServiceErrorDetails` with
/// `x-ms-error-code`. These routes take no bearer credential (their permission is nil).
struct ProvisioningHTTPSController {
    let provisioning: ProvisioningService
    let devices: DeviceGateway
    static let base = "/{idScope}/registrations/{registration}"

    var routes: [APIRoute] {
        [
            APIRoute(
                .put, Self.base + "/register", "dpsRegister",
                "DPS: register (202 with the operation to poll; Retry-After)", permission: nil, success: (202, nil)
            ) { request, context in
                try await answer(.register(requestID: "https"), request, context)
            },
            APIRoute(
                .get, Self.base + "/operations/{operation}", "dpsOperationStatus",
                "DPS: a registration's operation (200 with its RegistrationOperationStatus once done)",
                permission: nil, success: (200, nil)
            ) { request, context in
                let operation = try request.parameter("operation", context)
                return try await answer(
                    .operationStatus(requestID: "https", operationID: operation), request, context)
            },
        ]
    }

    /// Proves the registration the path names with the request's token or certificate, and answers it.
    private func answer(_ asked: ProvisioningRequest, _ request: Request, _ context: APIRequestContext) async throws
        -> Response
    {
        let scope = try request.parameter("idScope", context)
        let registration = try request.parameter("registration", context)
        guard let username = ProvisioningUsername("\(scope)/registrations/\(registration)") else {
            // As DPS answers an unknown scope: unauthorized, not a missing route.
            throw WardenError(
                .authInvalidCredential, "'\(scope)' is not an ID scope, or '\(registration)' not a registration id.")
        }
        let presented = try? await context.channel.pipeline.handler(type: PresentedCertificates.self).get()
        let authorization = request.headers[.authorization]
        let certificate = authorization == nil ? await devices.certificate(presented?.chain.certificates ?? []) : nil
        let bytes = try await request.collectBody(upTo: ProvisioningService.maximumBodyBytes)
        let answer = try await provisioning.answerRequest(
            asked, username, authorization: authorization, certificate: certificate,
            body: Array(bytes.readableBytesView), peer: context.peerAddress)
        return Self.response(status: answer.status, body: answer.body, retryAfter: answer.retryAfter)
    }

    /// DPS's answer as an HTTP response: its status, JSON body and `Retry-After`, and for an error its
    /// `x-ms-error-code`.
    private static func response(status: Int, body: [UInt8], retryAfter: Int?) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if status >= 400, case .object(let fields)? = try? JSONValue.parse(body, limits: .requestBody),
            case .number(let code)? = fields["errorCode"], let name = HTTPField.Name("x-ms-error-code")
        {
            headers[name] = "\(code)"
        }
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
