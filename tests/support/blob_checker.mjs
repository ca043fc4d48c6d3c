// The independent checker: reads (and, to stage a conflict, writes) Azure Blob Storage with
// Microsoft's own JavaScript client, so tests never rely only on ferry's reader.
//
//   node blob_checker.mjs list CONTAINER [PREFIX]        -> [{name,size,md5,metadata,etag,tier,
//                                                            content_type}]
//   node blob_checker.mjs download-md5 CONTAINER BLOB    -> {size, md5 (hex of the bytes)}
//   node blob_checker.mjs put CONTAINER BLOB TEXT        -> {etag}
//   node blob_checker.mjs fill CONTAINER SPEC.json       -> {blobs} SPEC: [{name, size,
//                                                           content_type?, metadata?, blocks?}]:
//                                                           bytes are the name and a counter,
//                                                           repeated; Content-MD5 set unless
//                                                           blocks (a block upload of 4 MiB
//                                                           blocks, with no Content-MD5)
//   node blob_checker.mjs delete CONTAINER BLOB          -> {deleted}
//   node blob_checker.mjs sas CONTAINER [SECONDS]        -> {sas} (container SAS, valid for
//                                                           SECONDS, default 3600; < 0: expired)
//   node blob_checker.mjs staged CONTAINER BLOB          -> {committed:[..], uncommitted:[..]}
//   node blob_checker.mjs drop CONTAINER                 -> {dropped} (the container, if there)
//   node blob_checker.mjs access CONTAINER LEVEL [ID]    -> {set} public access (off, blob or
//                                                           container) and, with ID, one stored
//                                                           access policy (rl, a year long)
//   node blob_checker.mjs service - JSON                 -> {set} the Blob service properties
//                                                           (setProperties; JSON as the SDK takes)
//   node blob_checker.mjs get-service -                  -> the Blob service properties
//
// The connection string comes from CHECKER_CONNECTION_STRING, never from the command line.
import { createHash } from "node:crypto";
import fs from "node:fs";
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";

const [command, container, ...rest] = process.argv.slice(2);
const connection = process.env.CHECKER_CONNECTION_STRING;
if (!connection) throw new Error("CHECKER_CONNECTION_STRING is not set");
const service = BlobServiceClient.fromConnectionString(connection);
const containerClient = service.getContainerClient(container);

function hex(base64) {
  return base64 ? Buffer.from(base64).toString("hex") : null;
}

async function main() {
  switch (command) {
    case "list": {
      const out = [];
      const options = { includeMetadata: true };
      if (rest[0]) options.prefix = rest[0];
      for await (const blob of containerClient.listBlobsFlat(options)) {
        out.push({
          name: blob.name,
          size: blob.properties.contentLength,
          md5: hex(blob.properties.contentMD5),
          metadata: blob.metadata ?? {},
          etag: blob.properties.etag,
          tier: blob.properties.accessTier ?? null,
          content_type: blob.properties.contentType ?? null,
        });
      }
      return out;
    }
    case "download-md5": {
      const response = await containerClient.getBlobClient(rest[0]).download();
      const hash = createHash("md5");
      let size = 0;
      for await (const chunk of response.readableStreamBody) {
        hash.update(chunk);
        size += chunk.length;
      }
      return { size, md5: hash.digest("hex"), stored_md5: hex(response.contentMD5) };
    }
    case "put": {
      await containerClient.createIfNotExists();
      const body = rest[1] ?? "";
      const result = await containerClient
        .getBlockBlobClient(rest[0])
        .upload(body, Buffer.byteLength(body));
      return { etag: result.etag };
    }
    case "fill": {
      await containerClient.createIfNotExists();
      const spec = JSON.parse(fs.readFileSync(rest[0], "utf8"));
      const one = async (blob) => {
        const body = Buffer.alloc(blob.size);
        let filled = 0;
        for (let i = 0; filled < blob.size; ++i) filled += body.write(`${blob.name}#${i}\n`, filled);
        const client = containerClient.getBlockBlobClient(blob.name);
        const headers = { blobContentType: blob.content_type };
        if (blob.blocks) {
          return client.uploadData(body, {
            blobHTTPHeaders: headers, metadata: blob.metadata,
            maxSingleShotSize: 4 << 20, blockSize: 4 << 20,
          });
        }
        headers.blobContentMD5 = createHash("md5").update(body).digest();
        return client.upload(body, body.length, { blobHTTPHeaders: headers, metadata: blob.metadata });
      };
      for (let i = 0; i < spec.length; i += 32) await Promise.all(spec.slice(i, i + 32).map(one));
      return { blobs: spec.length };
    }
    case "delete": {
      await containerClient.getBlobClient(rest[0]).delete();
      return { deleted: rest[0] };
    }
    case "sas": {
      const parts = Object.fromEntries(
        connection.split(";").filter(Boolean).map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]),
      );
      const credential = new StorageSharedKeyCredential(parts.AccountName, parts.AccountKey);
      const sas = generateBlobSASQueryParameters(
        {
          containerName: container,
          permissions: ContainerSASPermissions.parse("racwdl"),
          expiresOn: new Date(Date.now() + Number(rest[0] ?? 3600) * 1000),
        },
        credential,
      ).toString();
      return { sas };
    }
    case "staged": {
      let list;
      try {
        list = await containerClient.getBlockBlobClient(rest[0]).getBlockList("all");
      } catch (error) {
        if (error.statusCode === 404) return { committed: [], uncommitted: [] };  // no blocks yet
        throw error;
      }
      const names = (blocks) => (blocks ?? []).map((b) => Buffer.from(b.name, "base64").toString());
      return { committed: names(list.committedBlocks), uncommitted: names(list.uncommittedBlocks) };
    }
    case "drop": {
      const result = await containerClient.deleteIfExists();
      return { dropped: result.succeeded };
    }
    case "access": {
      await containerClient.createIfNotExists();
      const level = rest[0] === "off" ? undefined : rest[0];
      const policies = rest[1]
        ? [{ id: rest[1], accessPolicy: { permissions: "rl", startsOn: new Date(),
                                          expiresOn: new Date(Date.now() + 365 * 86400e3) } }]
        : [];
      await containerClient.setAccessPolicy(level, policies);
      return { set: true };
    }
    case "service": {
      await service.setProperties(JSON.parse(rest[0]));
      return { set: true };
    }
    case "get-service": {
      const p = await service.getProperties();
      return { deleteRetentionPolicy: p.deleteRetentionPolicy, logging: p.blobAnalyticsLogging };
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (error) => {
    process.stderr.write(`blob_checker: ${error.message}\n`);
    process.exit(1);
  },
);
