// The independent S3 client of the tests: fills, changes and reads a bucket with AWS's own
// JavaScript SDK (pinned in package.json), never with ferry's code.
//
//   node s3_client.mjs fill BUCKET SPEC.json   SPEC: [{key, size, content_type?, metadata?,
//                                                      multipart_part?}]: each object's bytes
//                                                      are its key and a counter, repeated
//   node s3_client.mjs put-files BUCKET SPEC.json  SPEC: [{key, file, content_type?, metadata?}]:
//                                                 each object's bytes are its file's
//   node s3_client.mjs put BUCKET KEY TEXT      -> {etag}
//   node s3_client.mjs delete BUCKET KEY        -> {deleted}
//   node s3_client.mjs list BUCKET              -> [{key, size, etag, md5, last_modified (ms),
//                                                    content_type, metadata}]; md5 is the
//                                                    single-part ETag, else read from the bytes
//
// S3_ENDPOINT names the server (http://127.0.0.1:PORT); the key pair is s3rver's own.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';

process.removeAllListeners('warning');  // the SDK's note about future Node versions
const [command, bucket, ...rest] = process.argv.slice(2);
const s3 = new S3Client({
  endpoint: process.env.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
});

function bytesOf(key, size) {
  const out = Buffer.alloc(size);
  let filled = 0;
  for (let i = 0; filled < size; ++i) filled += out.write(`${key}#${i}\n`, filled);
  return out;
}

async function put(object) {
  const body = bytesOf(object.key, object.size);
  const common = { Bucket: bucket, Key: object.key, ContentType: object.content_type, Metadata: object.metadata };
  if (!object.multipart_part) return s3.send(new PutObjectCommand({ ...common, Body: body }));
  const upload = await s3.send(new CreateMultipartUploadCommand(common));
  const parts = [];
  for (let offset = 0, n = 1; offset < body.length; offset += object.multipart_part, ++n) {
    const part = await s3.send(new UploadPartCommand({
      Bucket: bucket, Key: object.key, UploadId: upload.UploadId, PartNumber: n,
      Body: body.subarray(offset, offset + object.multipart_part),
    }));
    parts.push({ PartNumber: n, ETag: part.ETag });
  }
  return s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: object.key, UploadId: upload.UploadId, MultipartUpload: { Parts: parts },
  }));
}

async function list() {
  const out = [];
  let token;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: o.Key }));
      let md5 = o.ETag.replaceAll('"', '');
      if (!/^[0-9a-f]{32}$/.test(md5)) {  // multipart: the ETag is no MD5, read the bytes
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
        md5 = createHash('md5').update(Buffer.from(await got.Body.transformToByteArray())).digest('hex');
      }
      out.push({
        key: o.Key, size: o.Size, etag: o.ETag, md5, last_modified: head.LastModified.getTime(),
        content_type: head.ContentType ?? null, metadata: head.Metadata ?? {},
      });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

let result;
if (command === 'fill') {
  const spec = JSON.parse(fs.readFileSync(rest[0], 'utf8'));
  for (let i = 0; i < spec.length; i += 16) await Promise.all(spec.slice(i, i + 16).map(put));
  result = { objects: spec.length };
} else if (command === 'put-files') {
  const spec = JSON.parse(fs.readFileSync(rest[0], 'utf8'));
  const one = (o) => s3.send(new PutObjectCommand({
    Bucket: bucket, Key: o.key, Body: fs.readFileSync(o.file), ContentType: o.content_type,
    Metadata: o.metadata,
  }));
  for (let i = 0; i < spec.length; i += 16) await Promise.all(spec.slice(i, i + 16).map(one));
  result = { objects: spec.length };
} else if (command === 'put') {
  const answer = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: rest[0], Body: rest[1] }));
  result = { etag: answer.ETag };
} else if (command === 'delete') {
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: rest[0] }));
  result = { deleted: rest[0] };
} else if (command === 'list') {
  result = await list();
} else {
  throw new Error(`unknown command ${command}`);
}
process.stdout.write(`${JSON.stringify(result)}\n`);
