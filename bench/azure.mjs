// What the throughput benchmark asks of the target, through Microsoft's own client: make a
// container, give a container SAS for the peers, and count what a tool uploaded (so a tool that
// silently skipped files cannot look fast).
//
//   node bench/azure.mjs create CONTAINER        -> nothing; the container exists
//   node bench/azure.mjs sas CONTAINER           -> the SAS query (no '?'), valid for 6 hours
//   node bench/azure.mjs summary CONTAINER       -> "BLOBS BYTES WITH_MD5"
//
// The connection string comes from BENCH_CONNECTION_STRING.
import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";

const [command, container] = process.argv.slice(2);
const connection = process.env.BENCH_CONNECTION_STRING;
if (!connection || !container) {
  console.error("usage: BENCH_CONNECTION_STRING=... node bench/azure.mjs create|sas|summary CONTAINER");
  process.exit(2);
}
const service = BlobServiceClient.fromConnectionString(connection);
const client = service.getContainerClient(container);

switch (command) {
  case "create":
    await client.createIfNotExists();
    break;
  case "sas": {
    const key = /AccountKey=([^;]+)/.exec(connection)?.[1];
    const credential = new StorageSharedKeyCredential(service.accountName, key);
    const sas = generateBlobSASQueryParameters({
      containerName: container,
      permissions: ContainerSASPermissions.parse("racwdl"),
      startsOn: new Date(Date.now() - 60_000),
      expiresOn: new Date(Date.now() + 6 * 3600_000),
    }, credential);
    console.log(sas.toString());
    break;
  }
  case "summary": {
    let blobs = 0, bytes = 0, withMd5 = 0;
    for await (const blob of client.listBlobsFlat()) {
      blobs += 1;
      bytes += blob.properties.contentLength;
      if (blob.properties.contentMD5?.length) withMd5 += 1;
    }
    console.log(`${blobs} ${bytes} ${withMd5}`);
    break;
  }
  default:
    console.error(`unknown command '${command}'`);
    process.exit(2);
}
