import Foundation
import FuzzDriver
import SwiftASN1
import WardenCore
import X509

@testable import WardenSecurity

/// The PKI's parsers of untrusted input: an OCSP request (anyone may POST one), a CRL a tenant uploads or a
/// distribution point serves, and a CSR. The first byte chooses which; the rest is the input. A CSR's bytes are
/// tried as PEM text and, wrapped in a PEM block, as DER.
///
/// Invariants besides not crashing: an OCSP request that parses is answered with a signed response (DER, a
/// SEQUENCE); a refused CRL or CSR is refused with its own error code.
private let authority = try! IssuingAuthority.generate(
    subject: try! DistinguishedName { CommonName("Fuzz CA") }, now: Date(timeIntervalSince1970: 1_800_000_000),
    lifetime: 86_400
).authority

@_cdecl("PKIFuzzer_main")
public func runFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    warden_fuzz_run(argc, argv) { data, size in fuzz(data, size) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 3 {
    case 0:
        guard let query = OCSPQuery(der: bytes) else { return 0 }
        precondition(!query.items.isEmpty && query.items.count <= OCSPQuery.maximumItems, "a query asks about 1…16")
        let answer = try? authority.answer(query, now: Date(timeIntervalSince1970: 1_800_000_000), validity: 60) { _ in
            .good
        }
        precondition(answer?.first == 0x30, "a parsed query is answered")
    case 1:
        do {
            let list = try ExternalRevocationList(bytes: bytes, issuer: authority.certificate)
            precondition(list.serials.count <= ExternalRevocationList.maximumEntries)
        } catch {
            precondition(error.code == .caInvalidRevocationList, "a CRL is refused as a CRL")
        }
    default:
        let pem = PEMDocument(type: "CERTIFICATE REQUEST", derBytes: bytes).pemString
        for text in [String(decoding: bytes, as: UTF8.self), pem] {
            do {
                _ = try DeviceCertificateRequest(pem: text)
            } catch {
                precondition(error.code == .certificateInvalidRequest, "a CSR is refused as a CSR")
            }
        }
    }
    return 0
}
