import Foundation
import Testing
import WardenCore
import WardenStore

/// Certificate authorities, their keys and CRLs, and the certificates issuing CAs signed, against each engine.
/// The store keeps PEM and DER as given (it parses neither), so any text and bytes stand in for them.
struct PKIStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 86_400

    private func makeTenant(_ store: any PortedStores) async throws {
        _ = try await store.createTenant(Tenant(id: .defaultTenant, hostName: .localhost, createdAt: now), etag: "t")
    }

    /// A thumbprint made of one hex digit repeated.
    private func thumbprint(_ digit: Character) throws -> Thumbprint {
        try Thumbprint(String(repeating: digit, count: 64))
    }

    private func authority(
        _ name: String, _ digit: Character, tenant: TenantID = .defaultTenant, isIssuing: Bool = false,
        revocationCheck: RevocationCheck = .off
    ) throws -> CertificateAuthority {
        CertificateAuthority(
            tenantID: tenant, name: try CAName(name),
            certificatePEM: "-----BEGIN CERTIFICATE-----\n\(name)\n-----END CERTIFICATE-----\n",
            thumbprint: try thumbprint(digit), subject: "CN=\(name)", notValidAfter: now + 365 * day,
            isVerified: isIssuing, verificationCode: isIssuing ? nil : "code-\(name)", isIssuing: isIssuing,
            revocationCheck: revocationCheck, createdAt: now)
    }

    private func certificate(
        _ serial: String, by authority: CertificateAuthority, device: String, expiresIn seconds: TimeInterval,
        renewedFrom: String? = nil, revocation: IssuedCertificate.Revocation? = nil
    ) throws -> IssuedCertificate {
        IssuedCertificate(
            tenantID: authority.tenantID, authority: authority.name,
            serial: CertificateSerial(issuer: authority.thumbprint, serial: serial), deviceID: try DeviceID(device),
            thumbprint: try thumbprint(serial.last ?? "0"),
            certificatePEM: "-----BEGIN CERTIFICATE-----\n\(serial)\n-----END CERTIFICATE-----\n",
            notValidBefore: now - day, notValidAfter: now + seconds, issuedAt: now - day, issuedBy: "user:ada",
            renewedFrom: renewedFrom, revocation: revocation)
    }

    @Test(arguments: StoreEngine.allCases) func authoritiesSurviveReopenUpdateAndDelete(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            let checked = try authority(
                "ca-a", "A",
                revocationCheck: RevocationCheck(
                    mode: .softFail, crlURL: "https://crl.example/a.crl", refreshSeconds: 600, ocsp: true))
            let plain = try authority("ca-b", "B")
            #expect(try await store.createCertificateAuthority(plain) == plain)
            _ = try await store.createCertificateAuthority(checked)
            // The name, or the certificate, taken already.
            await #expect(throws: WardenError(.caAlreadyExists, "")) {
                try await store.createCertificateAuthority(try authority("ca-b", "C"))
            }
            await #expect(throws: WardenError(.caAlreadyExists, "")) {
                try await store.createCertificateAuthority(try authority("ca-c", "A"))
            }
            await #expect(throws: WardenError(.tenantNotFound, "")) {
                try await store.createCertificateAuthority(try authority("ca-c", "C", tenant: try TenantID("nobody")))
            }

            let reopened = try await fresh.reopen()
            #expect(try await reopened.certificateAuthorities(.defaultTenant) == [checked, plain])
            #expect(try await reopened.allCertificateAuthorities() == [checked, plain])
            #expect(try await reopened.certificateAuthorities(try TenantID("nobody")).isEmpty)

            let updated = try await store.updateCertificateAuthority(.defaultTenant, plain.name) { authority in
                authority.isVerified = true
                authority.verificationCode = nil
                authority.revocationCheck = RevocationCheck(
                    mode: .hardFail, crlURL: nil, refreshSeconds: 7_200, ocsp: false)
            }
            #expect(updated.isVerified && updated.verificationCode == nil)
            #expect(updated.revocationCheck.mode == .hardFail && updated.revocationCheck.refreshSeconds == 7_200)
            #expect(try await fresh.reopen().certificateAuthorities(.defaultTenant) == [checked, updated])
            // A change that throws writes nothing.
            await #expect(throws: WardenError(.caNotFound, "")) {
                try await store.updateCertificateAuthority(.defaultTenant, plain.name) { authority in
                    authority.isVerified = false
                    throw WardenError(.caNotFound, "refused")
                }
            }
            await #expect(throws: WardenError(.caNotFound, "")) {
                try await store.updateCertificateAuthority(.defaultTenant, try CAName("ca-z")) { _ in }
            }
            #expect(try await store.certificateAuthorities(.defaultTenant).last?.isVerified == true)

            try await store.deleteCertificateAuthority(.defaultTenant, checked.name)
            #expect(try await fresh.reopen().certificateAuthorities(.defaultTenant) == [updated])
            await #expect(throws: WardenError(.caNotFound, "")) {
                try await store.deleteCertificateAuthority(.defaultTenant, checked.name)
            }
            // Its certificate is free again.
            _ = try await store.createCertificateAuthority(try authority("ca-c", "A"))
        }
    }

    @Test(arguments: StoreEngine.allCases) func issuingAuthoritiesKeepTheirKeys(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            let secret = SecretBytes.random(count: 32)
            let sealed = try authority("issuer", "1", isIssuing: true)
            let token = try authority("token", "2", isIssuing: true)
            let registered = try authority("external", "3")
            #expect(try await store.createIssuingAuthority(sealed, key: .sealed(secret)) == sealed)
            _ = try await store.createIssuingAuthority(token, key: .token(label: "hsm-slot-1"))
            _ = try await store.createCertificateAuthority(registered)
            // A taken name refuses the CA and its key together: the first key stays.
            await #expect(throws: WardenError(.caAlreadyExists, "")) {
                try await store.createIssuingAuthority(
                    try authority("issuer", "4", isIssuing: true), key: .sealed(SecretBytes.random(count: 32)))
            }

            let reopened = try await fresh.reopen()
            guard case .sealed(let opened) = try await reopened.issuingKey(.defaultTenant, sealed.name) else {
                Issue.record("not a sealed key")
                return
            }
            #expect(opened.bytes == secret.bytes)
            guard case .token(let label) = try await reopened.issuingKey(.defaultTenant, token.name) else {
                Issue.record("not a token key")
                return
            }
            #expect(label == "hsm-slot-1")
            await #expect(throws: WardenError(.caNotIssuing, "")) {
                try await reopened.issuingKey(.defaultTenant, registered.name)
            }
            #expect(try await reopened.certificateAuthorities(.defaultTenant).map(\.isIssuing) == [false, true, true])
        }
    }

    @Test(arguments: StoreEngine.allCases) func issuedCertificatesListByFilterAndCursor(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            let issuer = try authority("issuer", "1", isIssuing: true)
            let other = try authority("other", "2", isIssuing: true)
            _ = try await store.createIssuingAuthority(issuer, key: .token(label: "a"))
            _ = try await store.createIssuingAuthority(other, key: .token(label: "b"))
            let revoked = IssuedCertificate.Revocation(at: now - 3_600, reason: .keyCompromise)
            let certificates = [
                try certificate("01", by: issuer, device: "dev-1", expiresIn: 10 * day),
                try certificate("02", by: issuer, device: "dev-1", expiresIn: 100 * day),
                try certificate("03", by: issuer, device: "dev-2", expiresIn: -day),
                try certificate("04", by: other, device: "dev-2", expiresIn: 100 * day, revocation: revoked),
                try certificate("05", by: other, device: "dev-3", expiresIn: 5 * day, renewedFrom: "01"),
                // Expiring at `now` exactly: expired.
                try certificate("06", by: issuer, device: "dev-3", expiresIn: 0),
            ]
            for issued in certificates { try await store.addIssuedCertificate(issued) }

            let reopened = try await fresh.reopen()
            #expect(try await reopened.issuedCertificate(.defaultTenant, serial: "04") == certificates[3])
            #expect(try await reopened.issuedCertificate(.defaultTenant, serial: "05") == certificates[4])
            #expect(try await reopened.issuedCertificate(.defaultTenant, serial: "99") == nil)

            func serials(_ filter: IssuedCertificateFilter, after cursor: String? = nil, limit: Int = 10)
                async throws -> [String]
            {
                try await reopened.issuedCertificates(
                    .defaultTenant, filter: filter, now: now, after: cursor, limit: limit
                ).items.map(\.serial.serial)
            }
            #expect(try await serials(IssuedCertificateFilter()) == ["01", "02", "03", "04", "05", "06"])
            #expect(try await serials(IssuedCertificateFilter(deviceID: try DeviceID("dev-2"))) == ["03", "04"])
            #expect(try await serials(IssuedCertificateFilter(authority: other.name)) == ["04", "05"])
            #expect(try await serials(IssuedCertificateFilter(status: .valid)) == ["01", "02", "05"])
            #expect(try await serials(IssuedCertificateFilter(status: .expired)) == ["03", "06"])
            #expect(try await serials(IssuedCertificateFilter(status: .revoked)) == ["04"])
            #expect(try await serials(IssuedCertificateFilter(expiringBefore: now + 30 * day)) == ["01", "05"])
            #expect(
                try await serials(IssuedCertificateFilter(deviceID: try DeviceID("dev-3"), status: .valid)) == ["05"])
            #expect(try await serials(IssuedCertificateFilter(authority: issuer.name, status: .valid)) == ["01", "02"])
            #expect(try await serials(IssuedCertificateFilter(), after: "04") == ["05", "06"])
            #expect(
                try await reopened.issuedCertificates(
                    try TenantID("nobody"), filter: IssuedCertificateFilter(), now: now, after: nil, limit: 10
                ).items.isEmpty)

            var cursor: String?
            var pages: [[String]] = []
            repeat {
                let page = try await reopened.issuedCertificates(
                    .defaultTenant, filter: IssuedCertificateFilter(), now: now, after: cursor, limit: 4)
                pages.append(page.items.map(\.serial.serial))
                cursor = page.nextCursor
            } while cursor != nil
            #expect(pages == [["01", "02", "03", "04"], ["05", "06"]])
            let valid = try await reopened.issuedCertificates(
                .defaultTenant, filter: IssuedCertificateFilter(status: .valid), now: now, after: nil, limit: 2)
            #expect(valid.items.map(\.serial.serial) == ["01", "02"] && valid.nextCursor == "02")
            #expect(try await serials(IssuedCertificateFilter(status: .valid), after: "02", limit: 2) == ["05"])
        }
    }

    @Test(arguments: StoreEngine.allCases) func revocationsAndCounts(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            let first = try authority("ca-a", "1", isIssuing: true)
            let second = try authority("ca-b", "2", isIssuing: true)
            _ = try await store.createIssuingAuthority(first, key: .token(label: "a"))
            _ = try await store.createIssuingAuthority(second, key: .token(label: "b"))
            for issued in [
                try certificate("01", by: second, device: "d", expiresIn: 10 * day),
                try certificate("02", by: second, device: "d", expiresIn: 100 * day),
                try certificate("03", by: second, device: "d", expiresIn: -day),
                try certificate("09", by: first, device: "d", expiresIn: 20 * day),
                try certificate("0A", by: first, device: "d", expiresIn: 40 * day),
                try certificate("0B", by: first, device: "d", expiresIn: 0),
            ] {
                try await store.addIssuedCertificate(issued)
            }
            let before = try await store.countValidCertificates(now: now, expiringBefore: now + 30 * day)
            #expect(before.valid == 4 && before.expiring == 2)

            let revocation = IssuedCertificate.Revocation(at: now, reason: .keyCompromise)
            let revoked = try await store.revokeCertificate(.defaultTenant, serial: "01", revocation)
            #expect(revoked.revocation == revocation && revoked.serial.serial == "01")
            #expect(try await fresh.reopen().issuedCertificate(.defaultTenant, serial: "01")?.revocation == revocation)
            await #expect(throws: WardenError(.certificateAlreadyRevoked, "")) {
                try await store.revokeCertificate(
                    .defaultTenant, serial: "01", IssuedCertificate.Revocation(at: now + 60, reason: .superseded))
            }
            #expect(try await store.issuedCertificate(.defaultTenant, serial: "01")?.revocation == revocation)
            await #expect(throws: WardenError(.certificateNotFound, "")) {
                try await store.revokeCertificate(.defaultTenant, serial: "FF", revocation)
            }
            await #expect(throws: WardenError(.certificateNotFound, "")) {
                try await store.revokeCertificate(try TenantID("nobody"), serial: "02", revocation)
            }
            // Expired or not, any certificate can be revoked.
            _ = try await store.revokeCertificate(
                .defaultTenant, serial: "03", IssuedCertificate.Revocation(at: now, reason: .cessationOfOperation))
            _ = try await store.revokeCertificate(
                .defaultTenant, serial: "0A", IssuedCertificate.Revocation(at: now, reason: .caCompromise))

            let reopened = try await fresh.reopen()
            // By tenant, CA and serial; only those not expired at `now`.
            #expect(try await reopened.revokedCertificates(notExpiredAt: now).map(\.serial.serial) == ["0A", "01"])
            #expect(
                try await reopened.revokedCertificates(notExpiredAt: now - 2 * day).map(\.serial.serial)
                    == ["0A", "01", "03"])
            #expect(try await reopened.revokedCertificates(notExpiredAt: now + 50 * day).isEmpty)
            #expect(
                try await reopened.revokedCertificates(notExpiredAt: now).map { $0.revocation?.reason }
                    == [.caCompromise, .keyCompromise])
            // Valid at `now`: 02 and 09; 09 expires within 30 days.
            let after = try await reopened.countValidCertificates(now: now, expiringBefore: now + 30 * day)
            #expect(after.valid == 2 && after.expiring == 1)
            let none = try await reopened.countValidCertificates(now: now + 200 * day, expiringBefore: now)
            #expect(none.valid == 0 && none.expiring == 0)
        }
    }

    @Test(arguments: StoreEngine.allCases) func revocationListsAreKeptAndReplaced(engine: StoreEngine) async throws {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            let first = try authority("ca-a", "A")
            let second = try authority("ca-b", "B")
            _ = try await store.createCertificateAuthority(first)
            _ = try await store.createCertificateAuthority(second)
            #expect(try await store.revocationLists().isEmpty)

            func state(_ authority: CertificateAuthority, source: String, at: Date) -> RevocationListState {
                RevocationListState(
                    tenantID: authority.tenantID, authority: authority.name, issuer: authority.thumbprint,
                    serials: ["01", "02"], thisUpdate: at, nextUpdate: at + day, number: "0F", source: source,
                    updatedAt: at)
            }
            try await store.saveRevocationList(state(first, source: "upload", at: now), der: [0x30, 0x03, 0x02, 0x01])
            try await store.saveRevocationList(
                state(first, source: "https://crl.example/a.crl", at: now + 60), der: [0x30, 0x00, 0xFF])
            try await store.saveRevocationList(
                RevocationListState(
                    tenantID: second.tenantID, authority: second.name, issuer: second.thumbprint, serials: [],
                    thisUpdate: now, nextUpdate: nil, number: nil, source: "upload", updatedAt: now),
                der: [0x00])

            // An older one (by number, or without numbers by thisUpdate) is not stored.
            var older = state(first, source: "replayed", at: now + 120)
            older = RevocationListState(
                tenantID: older.tenantID, authority: older.authority, issuer: older.issuer, serials: [],
                thisUpdate: older.thisUpdate, nextUpdate: nil, number: "0E", source: "replayed", updatedAt: now + 120)
            #expect(try await !store.saveRevocationList(older, der: [0x01]))
            // Numbers compare as numbers: 0100 is after FF.
            for (number, isKept) in [("0100", true), ("FF", false)] {
                let state = RevocationListState(
                    tenantID: older.tenantID, authority: older.authority, issuer: older.issuer, serials: [],
                    thisUpdate: now + 60, nextUpdate: nil, number: number, source: "https://crl.example/a.crl",
                    updatedAt: now + 60)
                #expect(try await store.saveRevocationList(state, der: [0x30, 0x00, 0xFF]) == isKept)
            }
            #expect(
                try await !store.saveRevocationList(
                    RevocationListState(
                        tenantID: second.tenantID, authority: second.name, issuer: second.thumbprint, serials: [],
                        thisUpdate: now - 1, nextUpdate: nil, number: nil, source: "replayed", updatedAt: now),
                    der: [0x02]))
            #expect(
                try await store.saveRevocationList(
                    RevocationListState(
                        tenantID: second.tenantID, authority: second.name, issuer: second.thumbprint, serials: [],
                        thisUpdate: now, nextUpdate: nil, number: nil, source: "upload", updatedAt: now),
                    der: [0x00]))

            let lists = try await fresh.reopen().revocationLists()
                .sorted { $0.authority.rawValue < $1.authority.rawValue }
            try #require(lists.map(\.authority) == [first.name, second.name])
            #expect(lists[0].der == [0x30, 0x00, 0xFF] && lists[0].source == "https://crl.example/a.crl")
            #expect(try await fresh.store.revocationLists().first { $0.authority == first.name }?.der.count == 3)
            #expect(lists[0].updatedAt == now + 60 && lists[0].tenantID == .defaultTenant)
            #expect(lists[1].der == [0x00] && lists[1].source == "upload" && lists[1].updatedAt == now)
        }
    }

    @Test(arguments: StoreEngine.allCases) func deletingACATakesItsKeyCRLAndCertificates(engine: StoreEngine)
        async throws
    {
        try await engine.withFreshStore { fresh in
            let store = fresh.store
            try await makeTenant(store)
            let doomed = try authority("doomed", "1", isIssuing: true)
            let kept = try authority("kept", "2", isIssuing: true)
            _ = try await store.createIssuingAuthority(doomed, key: .sealed(SecretBytes.random(count: 32)))
            _ = try await store.createIssuingAuthority(kept, key: .token(label: "k"))
            try await store.addIssuedCertificate(try certificate("01", by: doomed, device: "d", expiresIn: day))
            try await store.addIssuedCertificate(try certificate("02", by: kept, device: "d", expiresIn: day))
            for authority in [doomed, kept] {
                try await store.saveRevocationList(
                    RevocationListState(
                        tenantID: authority.tenantID, authority: authority.name, issuer: authority.thumbprint,
                        serials: [], thisUpdate: now, nextUpdate: nil, number: nil, source: "upload", updatedAt: now),
                    der: [0x30])
            }

            try await store.deleteCertificateAuthority(.defaultTenant, doomed.name)
            let reopened = try await fresh.reopen()
            #expect(try await reopened.certificateAuthorities(.defaultTenant) == [kept])
            await #expect(throws: WardenError(.caNotIssuing, "")) {
                try await reopened.issuingKey(.defaultTenant, doomed.name)
            }
            #expect(try await reopened.revocationLists().map(\.authority) == [kept.name])
            #expect(
                try await reopened.issuedCertificates(
                    .defaultTenant, filter: IssuedCertificateFilter(), now: now, after: nil, limit: 10
                ).items.map(\.serial.serial) == ["02"])
            // 02 expires at `now + day` exactly: within it.
            let counts = try await reopened.countValidCertificates(now: now, expiringBefore: now + day)
            #expect(counts.valid == 1 && counts.expiring == 1)
            // The name is free again, and a new key goes with it.
            _ = try await store.createIssuingAuthority(doomed, key: .token(label: "new"))
            guard case .token(let label) = try await reopened.issuingKey(.defaultTenant, doomed.name) else {
                Issue.record("not a token key")
                return
            }
            #expect(label == "new")
        }
    }
}
