import AsyncHTTPClient
public import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
public import WardenCore
import WardenSecurity
import WardenStore
import X509

/// External CAs' revocation (issue 15): the check each CA asks for, CRLs a tenant uploads or Warden fetches from
/// a distribution point on a schedule, kept only when the CA signed them and they are not older than the one in
/// force. Each accepted CRL goes out as `revocationListChanged`, which closes the connections it revokes.
extension CertificateService {
    /// Sets how revocation of what an external CA issued is checked; a CRL URL is fetched at once, then every
    /// `refreshSeconds` (sooner once the CRL in force passes its `nextUpdate`).
    public func setRevocationCheck(_ tenantID: TenantID, _ name: CAName, _ check: RevocationCheck) async throws
        -> CertificateAuthority
    {
        guard (10...604_800).contains(check.refreshSeconds) else {
            throw WardenError(.requestInvalidField, "'refreshSeconds' is 10 to 604800.")
        }
        if let url = check.crlURL {
            guard url.utf8.count <= 2_048, let parsed = URL(string: url),
                ["http", "https"].contains(parsed.scheme ?? ""),
                parsed.host?.isEmpty == false
            else { throw WardenError(.requestInvalidField, "'crlUrl' is an http or https URL of at most 2048 bytes.") }
        }
        let authority = try await store.certificateAuthorities(tenantID).first { $0.name == name }
        guard let authority else { throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.") }
        guard !authority.isIssuing else {
            throw WardenError(
                .requestInvalidField,
                "CA '\(name)' is Warden's own: its certificates are revoked with warden cert revoke.")
        }
        let stored = try await commit {
            let stored = try await self.store.updateCertificateAuthority(tenantID, name) { $0.revocationCheck = check }
            return (stored, [.certificateAuthorityChanged(stored)])
        }
        return stored
    }

    /// Accepts a CRL (DER or PEM) for an external CA: signed by it, naming it as issuer, no older than the CRL in
    /// force (by CRL number, else by `thisUpdate`), not issued in the future.
    public func acceptRevocationList(_ tenantID: TenantID, _ name: CAName, bytes: [UInt8], source: String)
        async throws -> RevocationListState
    {
        let authority = try await store.certificateAuthorities(tenantID).first { $0.name == name }
        guard let authority, let certificate = CertificateAuthorityCheck.certificate(pem: authority.certificatePEM)
        else { throw WardenError(.caNotFound, "There is no CA '\(name)' in tenant '\(tenantID)'.") }
        guard !authority.isIssuing else {
            throw WardenError(.requestInvalidField, "CA '\(name)' is Warden's own: Warden signs its CRL.")
        }
        let list = try ExternalRevocationList(bytes: bytes, issuer: certificate)
        let now = clock.now()
        guard list.thisUpdate <= now.addingTimeInterval(300) else {
            throw WardenError(.caInvalidRevocationList, "The CRL was issued in the future (\(list.thisUpdate)).")
        }
        let key = AuthorityKey(tenantID: tenantID, name: name)
        if let current = caches.withLock({ $0.external[key] }), Self.isOlder(list, than: current) {
            throw WardenError(
                .caStaleRevocationList,
                "The CRL is older than the one in force (issued \(current.thisUpdate), number \(current.number ?? "none"))."
            )
        }
        let state = RevocationListState(
            tenantID: tenantID, authority: name, issuer: authority.thumbprint, serials: list.serials,
            thisUpdate: list.thisUpdate, nextUpdate: list.nextUpdate, number: list.number, source: source,
            updatedAt: now)
        return try await commit {
            // The store keeps the newest of what every node accepted: this node's copy may be behind another's.
            guard try await self.store.saveRevocationList(state, der: bytes) else {
                throw WardenError(
                    .caStaleRevocationList, "The CRL is older than the one in force, which another node accepted.")
            }
            self.caches.withLock { $0.external[key] = state }
            return (state, [.revocationListChanged(state)])
        }
    }

    /// Takes another node's accepted CRL as this node's copy, unless this node holds a newer one.
    func take(_ state: RevocationListState) {
        let key = AuthorityKey(tenantID: state.tenantID, name: state.authority)
        caches.withLock { caches in
            if let current = caches.external[key],
                Self.isOlder(number: state.number, thisUpdate: state.thisUpdate, than: current)
            {
                return
            }
            caches.external[key] = state
        }
    }

    /// The CRL in force for an external CA, and the last fetch's error if it failed.
    public func revocationListStatus(_ tenantID: TenantID, _ name: CAName) -> (
        list: RevocationListState?, fetchError: String?
    ) {
        let key = AuthorityKey(tenantID: tenantID, name: name)
        return caches.withLock { ($0.external[key], $0.fetches[key]?.error) }
    }

    /// Reads the CRLs the store keeps and puts them in force again: at start-up (before listeners open), and on
    /// a node of a cluster that may have missed other nodes' notices (`origin` `.otherNode` then: the other nodes
    /// hold them already). What a CA deleted (or deleted and made again under its name) meanwhile left in memory
    /// goes; only a CRL this node did not hold, or held older, is announced, and only a CA whose check is new to
    /// this node is fetched at once, so a reading with nothing changed changes nothing.
    public func loadRevocationLists(announcedFrom origin: EventOrigin = .thisNode) async throws {
        let authorities = try await store.allCertificateAuthorities()
        let stored = Dictionary(
            authorities.map { (AuthorityKey(tenantID: $0.tenantID, name: $0.name), $0) }
        ) { first, _ in first }
        caches.withLock { caches in
            caches.authorities = caches.authorities.filter {
                stored[$0.key]?.certificatePEM == $0.value.certificatePEM
            }
            caches.lists = caches.lists.filter { caches.authorities[$0.key] != nil }
            caches.external = caches.external.filter { stored[$0.key]?.thumbprint == $0.value.issuer }
            caches.fetches = caches.fetches.filter { stored[$0.key] != nil }
        }
        for list in try await store.revocationLists() {
            let key = AuthorityKey(tenantID: list.tenantID, name: list.authority)
            guard let authority = stored[key],
                let certificate = CertificateAuthorityCheck.certificate(pem: authority.certificatePEM),
                let read = try? ExternalRevocationList(bytes: list.der, issuer: certificate)
            else { continue }
            let state = RevocationListState(
                tenantID: list.tenantID, authority: list.authority, issuer: authority.thumbprint,
                serials: read.serials, thisUpdate: read.thisUpdate, nextUpdate: read.nextUpdate, number: read.number,
                source: list.source, updatedAt: list.updatedAt)
            let isNew = caches.withLock { caches in
                // Only a newer one: the same CRL read back differs in its times' precision.
                if let current = caches.external[key],
                    !Self.isOlder(number: current.number, thisUpdate: current.thisUpdate, than: state)
                {
                    return false
                }
                caches.external[key] = state
                return true
            }
            if isNew { bus.publish(.revocationListChanged(state), from: origin) }
        }
        for authority in authorities { schedule(authority, unlessFollowed: true) }
    }

    /// Follows a CA's revocation check: a CRL URL is due at once (`unlessFollowed`: only when this node did not
    /// already follow that URL at that interval).
    func schedule(_ authority: CertificateAuthority, unlessFollowed: Bool = false) {
        let key = AuthorityKey(tenantID: authority.tenantID, name: authority.name)
        caches.withLock { caches in
            guard let url = authority.revocationCheck.crlURL, authority.revocationCheck.mode != .off else {
                caches.fetches[key] = nil
                return
            }
            let refresh = TimeInterval(authority.revocationCheck.refreshSeconds)
            if unlessFollowed, let followed = caches.fetches[key], followed.url == url, followed.refresh == refresh {
                return
            }
            caches.fetches[key] = Fetch(url: url, refresh: refresh, due: .distantPast, error: nil)
        }
    }

    /// Fetches every CRL that is due: its refresh interval passed, or the CRL in force reached `nextUpdate`.
    func fetchDue() async {
        let now = clock.now()
        let due = caches.withLock { $0.fetches.filter { $0.value.due <= now } }
        for (key, fetch) in due {
            var failure: String?
            do {
                var request = HTTPClientRequest(url: fetch.url)
                request.headers.add(name: "Accept", value: "application/pkix-crl")
                let response = try await OutboundHTTP.client.execute(request, timeout: .seconds(10))
                guard response.status == .ok else {
                    throw WardenError(.caInvalidRevocationList, "HTTP \(response.status.code)")
                }
                let body = try await response.body.collect(upTo: ExternalRevocationList.maximumBytes)
                _ = try await acceptRevocationList(
                    key.tenantID, key.name, bytes: Array(body.readableBytesView), source: fetch.url)
            } catch let refusal as WardenError where refusal.code == .caStaleRevocationList {
                // The distribution point still serves the CRL in force: nothing new.
            } catch {
                failure = "\(error)"
                logger.warning(
                    "Could not fetch a CRL.",
                    metadata: [
                        "tenant.id": "\(key.tenantID)", "ca": "\(key.name)", "url": "\(fetch.url)", "error": "\(error)",
                    ])
            }
            caches.withLock { caches in
                guard var current = caches.fetches[key], current.url == fetch.url else { return }
                current.due = now.addingTimeInterval(failure == nil ? current.refresh : min(current.refresh, 60))
                // A CRL that goes out of date before the next fetch is fetched when it does.
                if let next = caches.external[key]?.nextUpdate, next > now, next < current.due { current.due = next }
                current.error = failure
                caches.fetches[key] = current
            }
        }
    }

    /// Whether `list` is older than `current`: a smaller CRL number when both have one, else an earlier
    /// `thisUpdate`.
    static func isOlder(_ list: ExternalRevocationList, than current: RevocationListState) -> Bool {
        isOlder(number: list.number, thisUpdate: list.thisUpdate, than: current)
    }

    /// The order the store keeps too (`saveRevocationList`): by CRL number (hex, by length then characters), else
    /// by `thisUpdate`.
    static func isOlder(number: String?, thisUpdate: Date, than current: RevocationListState) -> Bool {
        if let new = number, let old = current.number {
            let (a, b) = (new.count, old.count)
            return a != b ? a < b : new < old
        }
        return thisUpdate < current.thisUpdate
    }
}
