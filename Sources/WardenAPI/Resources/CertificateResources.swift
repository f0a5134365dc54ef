public import Foundation
import WardenCore

/// A certificate one of the tenant's issuing CAs signed.
public struct IssuedCertificateResource: Codable, Sendable {
    public struct Revocation: Codable, Sendable {
        public let at: Date
        public let reason: String
    }

    public let serial: String
    public let certificateAuthority: String
    public let deviceId: String
    public let thumbprint: String
    public let status: String
    public let notValidBefore: Date
    public let notValidAfter: Date
    public let issuedAt: Date
    public let issuedBy: String
    public let renewedFrom: String?
    public let revocation: Revocation?
    /// PEM.
    public let certificate: String

    init(_ certificate: IssuedCertificate, now: Date) {
        self.serial = certificate.serial.serial
        self.certificateAuthority = certificate.authority.rawValue
        self.deviceId = certificate.deviceID.rawValue
        self.thumbprint = certificate.thumbprint.rawValue
        self.status = certificate.status(at: now).rawValue
        self.notValidBefore = certificate.notValidBefore
        self.notValidAfter = certificate.notValidAfter
        self.issuedAt = certificate.issuedAt
        self.issuedBy = certificate.issuedBy
        self.renewedFrom = certificate.renewedFrom
        self.revocation = certificate.revocation.map { Revocation(at: $0.at, reason: $0.reason.rawValue) }
        self.certificate = certificate.certificatePEM
    }
}

/// `POST /tenants/{tenant}/certificates`.
struct IssueCertificateRequest: APIRequestBody {
    static let fields: Set<String> = ["certificateAuthority", "deviceId", "csr", "days"]
    let certificateAuthority: CAName
    let deviceId: DeviceID
    /// PEM (PKCS #10).
    let csr: String
    let days: Int?
}

/// `POST /tenants/{tenant}/certificates/{serial}/renew`.
struct RenewCertificateRequest: APIRequestBody {
    static let fields: Set<String> = ["csr", "days"]
    let csr: String
    let days: Int?
}

/// `POST /tenants/{tenant}/certificates/{serial}/revoke`.
struct RevokeCertificateRequest: APIRequestBody {
    static let fields: Set<String> = ["reason"]
    let reason: RevocationReason
}
