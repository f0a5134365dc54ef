public import Foundation

/// A certificate's serial number as its issuer sees it: which CA (by the SHA-256 thumbprint of the CA's
/// certificate) and the serial (upper-case hex, without leading zero bytes). Two CAs may use the same serial;
/// revocation is always of a serial under one issuer.
public struct CertificateSerial: Sendable, Hashable {
    public let issuer: Thumbprint
    public let serial: String

    public init(issuer: Thumbprint, serial: String) {
        self.issuer = issuer
        self.serial = serial
    }
}

/// Why a certificate was revoked: RFC 5280's CRLReason codes that apply to a device certificate (not
/// `certificateHold`, which Warden does not use: a revocation is final).
public enum RevocationReason: String, Sendable, Hashable, CaseIterable, Codable {
    case unspecified
    case keyCompromise
    case caCompromise = "cACompromise"
    case affiliationChanged
    case superseded
    case cessationOfOperation
    case privilegeWithdrawn

    /// Its CRLReason code in CRLs and OCSP answers.
    public var code: Int {
        switch self {
        case .unspecified: 0
        case .keyCompromise: 1
        case .caCompromise: 2
        case .affiliationChanged: 3
        case .superseded: 4
        case .cessationOfOperation: 5
        case .privilegeWithdrawn: 9
        }
    }
}

/// A device certificate one of the tenant's issuing CAs signed (issue 15), with its lifecycle.
public struct IssuedCertificate: Sendable, Hashable {
    /// Whether it may still be used.
    public enum Status: String, Sendable, Hashable, CaseIterable {
        case valid
        case expired
        case revoked
    }

    /// When and why it was revoked.
    public struct Revocation: Sendable, Hashable {
        public let at: Date
        public let reason: RevocationReason

        public init(at: Date, reason: RevocationReason) {
            self.at = at
            self.reason = reason
        }
    }

    public let tenantID: TenantID
    /// The CA that signed it.
    public let authority: CAName
    public let serial: CertificateSerial
    /// The device it names (its CN).
    public let deviceID: DeviceID
    /// SHA-256 of its DER form.
    public let thumbprint: Thumbprint
    public let certificatePEM: String
    public let notValidBefore: Date
    public let notValidAfter: Date
    public let issuedAt: Date
    /// Who asked for it (`user:…`, `service:…`).
    public let issuedBy: String
    /// The serial of the certificate this one renewed, if it did.
    public let renewedFrom: String?
    public var revocation: Revocation?

    public init(
        tenantID: TenantID, authority: CAName, serial: CertificateSerial, deviceID: DeviceID, thumbprint: Thumbprint,
        certificatePEM: String, notValidBefore: Date, notValidAfter: Date, issuedAt: Date, issuedBy: String,
        renewedFrom: String? = nil, revocation: Revocation? = nil
    ) {
        self.tenantID = tenantID
        self.authority = authority
        self.serial = serial
        self.deviceID = deviceID
        self.thumbprint = thumbprint
        self.certificatePEM = certificatePEM
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
        self.issuedAt = issuedAt
        self.issuedBy = issuedBy
        self.renewedFrom = renewedFrom
        self.revocation = revocation
    }

    /// Its status at `now`: revoked wins over expired.
    public func status(at now: Date) -> Status {
        if revocation != nil { return .revoked }
        return now >= notValidAfter ? .expired : .valid
    }
}

/// Which issued certificates a list shows.
public struct IssuedCertificateFilter: Sendable, Hashable {
    public var deviceID: DeviceID?
    public var authority: CAName?
    public var status: IssuedCertificate.Status?
    /// Only valid certificates that expire before this.
    public var expiringBefore: Date?

    public init(
        deviceID: DeviceID? = nil, authority: CAName? = nil, status: IssuedCertificate.Status? = nil,
        expiringBefore: Date? = nil
    ) {
        self.deviceID = deviceID
        self.authority = authority
        self.status = status
        self.expiringBefore = expiringBefore
    }
}

/// How Warden checks revocation of certificates a tenant's external CA issued (one it does not run).
public struct RevocationCheck: Sendable, Hashable {
    /// What a missing or out-of-date CRL means.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// No check.
        case off
        /// Certificates the CRL lists are refused; without a current CRL, the others connect.
        case softFail = "soft-fail"
        /// Certificates the CRL lists are refused, and every certificate of the CA is refused while there is no
        /// CRL or it is past its `nextUpdate`.
        case hardFail = "hard-fail"
    }

    public var mode: Mode
    /// A CRL distribution point Warden fetches (`http` or `https`); nil when the tenant uploads CRLs.
    public var crlURL: String?
    /// Seconds between fetches; a CRL past its `nextUpdate` is fetched again at once.
    public var refreshSeconds: Int
    /// Whether a certificate's status is also asked, at connection, of the OCSP responder its certificate names
    /// (RFC 6960). Under `hard-fail`, a responder that cannot be reached or does not know the certificate refuses
    /// it, and the CRL is no longer required; under `soft-fail`, only a `revoked` answer refuses.
    public var ocsp: Bool

    public static let off = RevocationCheck(mode: .off, crlURL: nil, refreshSeconds: 3_600)

    public init(mode: Mode, crlURL: String?, refreshSeconds: Int, ocsp: Bool = false) {
        self.mode = mode
        self.crlURL = crlURL
        self.refreshSeconds = refreshSeconds
        self.ocsp = ocsp
    }
}

/// The CRL in force for an external CA: what it revokes and until when it is current.
public struct RevocationListState: Sendable, Hashable {
    public let tenantID: TenantID
    public let authority: CAName
    /// The CA certificate's thumbprint: the issuer of the serials listed.
    public let issuer: Thumbprint
    /// Revoked serials, canonical upper-case hex.
    public let serials: Set<String>
    public let thisUpdate: Date
    public let nextUpdate: Date?
    /// The CRL number (hex), when the CRL has one.
    public let number: String?
    /// `upload`, or the URL it was fetched from.
    public let source: String
    public let updatedAt: Date

    public init(
        tenantID: TenantID, authority: CAName, issuer: Thumbprint, serials: Set<String>, thisUpdate: Date,
        nextUpdate: Date?, number: String?, source: String, updatedAt: Date
    ) {
        self.tenantID = tenantID
        self.authority = authority
        self.issuer = issuer
        self.serials = serials
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.number = number
        self.source = source
        self.updatedAt = updatedAt
    }

    /// Whether the CRL is current at `now` (a CRL without `nextUpdate` never goes out of date).
    public func isCurrent(at now: Date) -> Bool {
        nextUpdate.map { now < $0 } ?? true
    }
}

/// Where an issuing CA's private key is: sealed in the store under the master key, or inside a PKCS #11 token
/// under a label (it never leaves the token).
public enum IssuingKey: Sendable {
    case sealed(SecretBytes)
    case token(label: String)
}
