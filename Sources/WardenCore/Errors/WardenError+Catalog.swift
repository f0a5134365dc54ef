extension WardenError.Code {
    // Identity rules.
    public static let tenantInvalidID = Self("tenant.invalid_id", .invalidInput)
    public static let tenantNotFound = Self("tenant.not_found", .notFound)
    public static let tenantAlreadyExists = Self("tenant.already_exists", .conflict)
    public static let tenantNotEmpty = Self("tenant.not_empty", .conflict)
    public static let tenantInvalidHostName = Self("tenant.invalid_host_name", .invalidInput)
    public static let tenantHostNameTaken = Self("tenant.host_name_taken", .conflict)
    public static let deviceInvalidID = Self("device.invalid_id", .invalidInput)
    public static let deviceNotFound = Self("device.not_found", .notFound)
    public static let deviceAlreadyExists = Self("device.already_exists", .conflict)
    public static let deviceEtagMismatch = Self("device.etag_mismatch", .preconditionFailed)
    public static let deviceInvalidAuthentication = Self("device.invalid_authentication", .invalidInput)
    public static let deviceInvalidStatusReason = Self("device.invalid_status_reason", .invalidInput)
    public static let deviceInvalidAttribute = Self("device.invalid_attribute", .invalidInput)
    public static let deviceNotSAS = Self("device.not_sas", .conflict)
    public static let groupInvalidName = Self("group.invalid_name", .invalidInput)
    public static let groupNotFound = Self("group.not_found", .notFound)
    public static let groupAlreadyExists = Self("group.already_exists", .conflict)
    public static let accessListEtagMismatch = Self("access_list.etag_mismatch", .preconditionFailed)
    public static let ipFilterInvalidRule = Self("ip_filter.invalid_rule", .invalidInput)
    public static let ipFilterEtagMismatch = Self("ip_filter.etag_mismatch", .preconditionFailed)
    public static let ipFilterTooManyRules = Self("ip_filter.too_many_rules", .invalidInput)
    public static let policyInvalidName = Self("shared_access_policy.invalid_name", .invalidInput)
    public static let policyNotFound = Self("shared_access_policy.not_found", .notFound)
    public static let policyInvalidDocument = Self("policy_document.invalid", .invalidInput)
    public static let policyVersionNotFound = Self("policy_version.not_found", .notFound)
    public static let policyVersionMismatch = Self("policy_version.mismatch", .preconditionFailed)
    public static let policyDecisionNotFound = Self("policy_decision.not_found", .notFound)
    public static let policyAlreadyExists = Self("shared_access_policy.already_exists", .conflict)
    public static let thumbprintInvalid = Self("thumbprint.invalid", .invalidInput)
    public static let cidrInvalid = Self("cidr.invalid", .invalidInput)
    public static let caInvalidName = Self("ca.invalid_name", .invalidInput)
    public static let caNotFound = Self("ca.not_found", .notFound)
    public static let caAlreadyExists = Self("ca.already_exists", .conflict)
    public static let caInvalidCertificate = Self("ca.invalid_certificate", .invalidInput)
    public static let caVerificationCodeMissing = Self("ca.no_verification_code", .conflict)
    public static let caVerificationFailed = Self("ca.verification_failed", .invalidInput)
    public static let caNotIssuing = Self("ca.not_issuing", .conflict)
    public static let caTooMany = Self("ca.too_many", .conflict)
    public static let enrollmentInvalidName = Self("enrollment.invalid_name", .invalidInput)
    public static let enrollmentNotFound = Self("enrollment.not_found", .notFound)
    public static let enrollmentAlreadyExists = Self("enrollment.already_exists", .conflict)
    public static let enrollmentDisabled = Self("enrollment.disabled", .forbidden)
    public static let enrollmentAllocationFailed = Self("enrollment.allocation_failed", .unavailable)
    public static let caInvalidRevocationList = Self("ca.invalid_crl", .invalidInput)
    public static let caStaleRevocationList = Self("ca.stale_crl", .conflict)
    public static let certificateInvalidRequest = Self("certificate.invalid_request", .invalidInput)
    public static let certificateRequestMismatch = Self("certificate.request_mismatch", .invalidInput)
    public static let certificateInvalidLifetime = Self("certificate.invalid_lifetime", .invalidInput)
    public static let certificateNotFound = Self("certificate.not_found", .notFound)
    public static let certificateAlreadyRevoked = Self("certificate.already_revoked", .conflict)

    // People, services, keys.
    public static let userInvalidName = Self("user.invalid_name", .invalidInput)
    public static let userNotFound = Self("user.not_found", .notFound)
    public static let userAlreadyExists = Self("user.already_exists", .conflict)
    public static let userWeakPassword = Self("user.weak_password", .invalidInput)
    public static let userLastPlatformAdmin = Self("user.last_platform_admin", .conflict)
    public static let roleNotGrantable = Self("role.not_grantable", .forbidden)
    public static let servicePrincipalNotFound = Self("service_principal.not_found", .notFound)
    public static let apiKeyNotFound = Self("api_key.not_found", .notFound)
    public static let apiKeyInvalidScope = Self("api_key.invalid_scope", .invalidInput)
    public static let totpNotPending = Self("totp.not_pending", .conflict)
    public static let totpMismatch = Self("totp.invalid_code", .invalidInput)

    // Cloud-to-device messages.
    public static let c2dQueueFull = Self("c2d.queue_full", .limitExceeded)
    public static let c2dInvalidTTL = Self("c2d.invalid_ttl", .invalidInput)
    public static let c2dTooLarge = Self("c2d.too_large", .tooLarge)
    public static let c2dLockLost = Self("c2d.lock_lost", .preconditionFailed)

    // Twins and methods.
    public static let twinInvalidPatch = Self("twin.invalid_patch", .invalidInput)
    public static let twinTooLarge = Self("twin.too_large", .tooLarge)
    public static let twinVersionMismatch = Self("twin.version_mismatch", .preconditionFailed)
    public static let twinBusy = Self("twin.busy", .conflict)
    public static let methodInvalidName = Self("method.invalid_name", .invalidInput)
    public static let methodPayloadTooLarge = Self("method.payload_too_large", .tooLarge)
    public static let methodDeviceOffline = Self("method.device_offline", .notFound)
    public static let methodTimeout = Self("method.timeout", .timeout)
    public static let methodInvalidResponse = Self("method.invalid_response", .unavailable)

    // Tokens and secrets.
    public static let sasMalformed = Self("sas.malformed", .unauthenticated)
    public static let sasExpired = Self("sas.expired", .unauthenticated)
    public static let sasResourceMismatch = Self("sas.resource_mismatch", .unauthenticated)
    public static let sasSignatureMismatch = Self("sas.signature_mismatch", .unauthenticated)
    public static let sasInvalidLifetime = Self("sas.invalid_lifetime", .invalidInput)
    public static let sealingFailed = Self("sealing.open_failed", .internal)
    public static let masterKeyInvalid = Self("master_key.invalid", .invalidInput)
    public static let masterKeyNotRotatable = Self("master_key.not_rotatable", .conflict)
    public static let masterKeyRotationInProgress = Self("master_key.rotation_in_progress", .conflict)
    public static let banNotFound = Self("ban.not_found", .notFound)
    public static let alertNotFound = Self("alert.not_found", .notFound)
    public static let alertResolved = Self("alert.resolved", .conflict)
    public static let auditReportNotFound = Self("defender.audit_not_run", .notFound)
    public static let backupInvalid = Self("backup.invalid", .invalidInput)
    public static let backupNotSupported = Self("backup.not_supported", .conflict)
    public static let authBanned = Self("auth.banned", .forbidden)

    // Requests.
    public static let requestMalformedJSON = Self("request.malformed_json", .invalidInput)
    public static let jsonTooComplex = Self("json.too_complex", .invalidInput)
    public static let requestInvalidField = Self("request.invalid_field", .invalidInput)
    public static let requestBodyTooLarge = Self("request.body_too_large", .tooLarge)
    public static let requestInvalidCursor = Self("request.invalid_cursor", .invalidInput)
    public static let requestInvalidQuery = Self("request.invalid_query", .invalidInput)
    public static let routeNotFound = Self("route.not_found", .notFound)
    public static let methodNotAllowed = Self("route.method_not_allowed", .invalidInput)
    public static let authMissingCredential = Self("auth.missing_credential", .unauthenticated)
    public static let authInvalidCredential = Self("auth.invalid_credential", .unauthenticated)
    public static let authForbidden = Self("auth.forbidden", .forbidden)
    public static let authCertificateRevoked = Self("auth.certificate_revoked", .unauthenticated)
    public static let authRevocationUnknown = Self("auth.revocation_unknown", .unauthenticated)
    public static let authSignInFailed = Self("auth.sign_in_failed", .unauthenticated)
    public static let authTOTPRequired = Self("auth.totp_required", .unauthenticated)
    public static let authLockedOut = Self("auth.locked_out", .limitExceeded)
    public static let authInvalidGrant = Self("auth.invalid_grant", .unauthenticated)
    public static let authCSRFRejected = Self("auth.csrf_rejected", .forbidden)
    public static let authPasswordChangeRequired = Self("auth.password_change_required", .forbidden)

    // Configuration and the running server.
    public static let configUnknownKey = Self("config.unknown_key", .invalidInput)
    public static let configInvalidValue = Self("config.invalid_value", .invalidInput)
    public static let configUnreadableFile = Self("config.unreadable_file", .invalidInput)
    public static let dataDirectoryUnusable = Self("data_dir.unusable", .unavailable)
    public static let listenerUnavailable = Self("listener.unavailable", .unavailable)
    public static let storeUnavailable = Self("store.unavailable", .unavailable)
    public static let storeUnusable = Self("store.unusable", .invalidInput)
    public static let storeConstraintViolated = Self("store.constraint_violated", .internal)
    public static let clusterSlotUnavailable = Self("cluster.slot_unavailable", .unavailable)
    public static let clusterSessionUnavailable = Self("cluster.session_unavailable", .unavailable)
    public static let internalError = Self("internal.error", .internal)

    /// Every code Warden can raise; docs/errors.md lists exactly these (a test checks it).
    public static let all: [Self] = [
        .tenantInvalidID, .tenantNotFound, .tenantAlreadyExists, .tenantNotEmpty, .tenantInvalidHostName,
        .tenantHostNameTaken, .deviceInvalidID, .deviceNotFound, .deviceAlreadyExists, .deviceEtagMismatch,
        .deviceInvalidAuthentication, .deviceInvalidStatusReason, .deviceInvalidAttribute, .deviceNotSAS,
        .userInvalidName, .userNotFound, .userAlreadyExists, .userWeakPassword, .userLastPlatformAdmin,
        .roleNotGrantable, .servicePrincipalNotFound, .apiKeyNotFound, .apiKeyInvalidScope, .totpNotPending,
        .totpMismatch, .authSignInFailed, .authTOTPRequired, .authLockedOut, .authInvalidGrant, .authCSRFRejected,
        .authPasswordChangeRequired,
        .groupInvalidName, .groupNotFound, .groupAlreadyExists, .accessListEtagMismatch,
        .ipFilterInvalidRule, .ipFilterEtagMismatch, .ipFilterTooManyRules, .policyInvalidName, .policyNotFound,
        .policyInvalidDocument, .policyVersionNotFound, .policyVersionMismatch,
        .policyDecisionNotFound,
        .policyAlreadyExists, .thumbprintInvalid, .cidrInvalid, .caInvalidName, .caNotFound,
        .caAlreadyExists, .caInvalidCertificate, .caVerificationCodeMissing, .caVerificationFailed,
        .caNotIssuing, .caTooMany, .enrollmentInvalidName, .enrollmentNotFound, .enrollmentAlreadyExists,
        .enrollmentDisabled,
        .enrollmentAllocationFailed,
        .caInvalidRevocationList, .caStaleRevocationList, .certificateInvalidRequest,
        .certificateRequestMismatch, .certificateInvalidLifetime,
        .certificateNotFound, .certificateAlreadyRevoked,
        .c2dQueueFull, .c2dInvalidTTL, .c2dTooLarge, .c2dLockLost, .twinInvalidPatch, .twinTooLarge,
        .twinVersionMismatch, .twinBusy, .methodInvalidName, .methodPayloadTooLarge, .methodDeviceOffline,
        .methodTimeout,
        .methodInvalidResponse, .sasMalformed,
        .sasExpired, .sasResourceMismatch,
        .sasSignatureMismatch, .sasInvalidLifetime, .sealingFailed, .masterKeyInvalid, .masterKeyNotRotatable,
        .masterKeyRotationInProgress, .banNotFound, .alertNotFound, .alertResolved, .auditReportNotFound,
        .backupInvalid,
        .backupNotSupported,
        .authBanned,
        .requestMalformedJSON,
        .jsonTooComplex, .requestInvalidField, .requestBodyTooLarge, .requestInvalidCursor, .requestInvalidQuery,
        .routeNotFound, .methodNotAllowed, .authMissingCredential,
        .authInvalidCredential, .authForbidden, .authCertificateRevoked, .authRevocationUnknown, .configUnknownKey,
        .configInvalidValue,
        .configUnreadableFile,
        .dataDirectoryUnusable, .listenerUnavailable, .storeUnavailable, .storeUnusable, .storeConstraintViolated,
        .clusterSlotUnavailable, .clusterSessionUnavailable, .internalError,
    ]
}
